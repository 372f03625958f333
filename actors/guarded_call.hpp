#pragma once

#include <exception>
#include <memory>
#include <utility>
#include <string>

#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>

#include "actors/io_actor_state.hpp"
#include "actors/outage_retry.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

/// Makes an exception that escapes a handler end the actor with the error
/// failure_from_exception classifies it as (retryable or permanent, with its
/// reason), so whoever monitors or supervises the actor can act on it.
inline void classify_escaped_exceptions(caf::scheduled_actor* self) {
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& ep) {
    return failure_from_exception(ep);
  });
}

/// One request of a pool actor over a local backend (disk, libvips): takes
/// the fault a chaos drill injects at `where` (thrown as the backend's own
/// retryable `Error`) and turns any failure into this request's error,
/// classified, never the actor's. `fn` returns an R or a caf::result<R>.
template <class R, class Error, class F>
caf::result<R> backend_call(fault::adapter where, const char* injected, F&& fn) {
  try {
    if (fault::should_fail(where))
      throw Error(injected, true);
    return fn();
  } catch (...) {
    return failure_from_exception(std::current_exception());
  }
}

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

/// Sets up a detached I/O actor that serves every request on one connection
/// (`port`) to `server`: fills its io_actor_state, installs the exception
/// handler (an exception that escapes anyway ends the actor with its
/// classified error; the pool supervisor replaces it) and returns the
/// actor's request runner. `run(fn)` calls `fn(*port)`, waiting out outages
/// (server_call), and turns any other failure into the error of that one
/// request (guarded_call): an SQL error or a Redis error reply never kills
/// the actor. `what` names the actor in log lines.
template <class Self, class Unavailable, class Port>
auto guarded_runner(Self self, const char* what, const outage_server<Unavailable>& server,
                    std::shared_ptr<Port> port, std::shared_ptr<worker_metrics> metrics,
                    std::shared_ptr<std::atomic<bool>> give_up) {
  auto& st = self->state;
  st.port = std::move(port);
  st.metrics = std::move(metrics);
  st.give_up = std::move(give_up);
  classify_escaped_exceptions(self);
  return [self, what, server](auto&& fn) {
    return guarded_call(what, [&] {
      auto& s = self->state;
      return server_call(server, *s.metrics, *s.give_up, [&] { return fn(*s.port); });
    });
  };
}

} // namespace quel
