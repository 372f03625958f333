#pragma once

#include <exception>
#include <string>

#include <caf/result.hpp>

#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

/// Runs one request of an I/O actor so that no failure can kill the actor:
/// an exception (an unexpected SQL error, a Redis error reply, a libpqxx or
/// std exception) becomes the error of this one request, classified by
/// failure_from_exception (retryable or permanent, with its reason), and
/// the actor goes on serving the next one. `what` names the actor for the
/// log line.
template <class F>
auto guarded_call(const char* what, F&& fn) -> caf::result<decltype(fn())> {
  try {
    return fn();
  } catch (...) {
    auto err = failure_from_exception(std::current_exception());
    log::limited(log::level::warn, std::string{what} + "-request-failed", 1000,
                 std::string{what} + " request failed", {{"error", reason_of(err)}});
    return err;
  }
}

} // namespace quel
