#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "adapters/adapter_failure.hpp"
#include "common/backoff.hpp"

namespace quel {

/// Parses a proto Duration such as "56s" or "0.539477544s" (rounded up to
/// whole milliseconds); nullopt otherwise.
std::optional<std::chrono::milliseconds> parse_proto_duration(std::string_view text);

/// The failed attempts of one operation (one image, all its attempts), kept
/// by whoever drives it (the StageActor, per image).
struct retry_state {
  int failures = 0;            // attempts that failed so far
  int retry_once_failures = 0; // of which replies without an image
};

/// Records a failed attempt of class `c` in `state` and answers when to try
/// again, or nullopt to give up (rules 17/18): permanent and object_missing
/// failures never retry; a reply without an image is retried once (a second
/// one gives up); otherwise `backoff` decides (full jitter under the
/// exponential ceiling, a server delay up to the cap honoured, a longer one
/// or too many attempts give up). The StageActor decides every image restart
/// here.
std::optional<std::chrono::milliseconds>
next_retry(const backoff_policy& backoff, retry_state& state, retry_class c,
           std::optional<std::chrono::milliseconds> server_delay,
           const backoff_policy::random_source& random);

} // namespace quel
