#pragma once

#include <chrono>
#include <string>

#include <caf/error.hpp>

/// Bounded label values for the metrics: an error's class instead of its
/// reason text (which holds ids, keys and server messages), so that the
/// number of series stays fixed however many different failures occur.
namespace quel {

/// One of: transient, no_image, permanent, object_missing,
/// credits_exhausted, lease_lost, shutting_down (the codes of
/// messages/errors.hpp), crash (an actor died of something that is not a
/// classified failure), none (no error).
const char* error_class(const caf::error& err);

/// Seconds from `since` to now on the steady clock, for the histograms.
inline double seconds_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

/// Whole milliseconds from `since` to now, for log lines' duration_ms.
inline int64_t milliseconds_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now() - since)
    .count();
}

} // namespace quel
