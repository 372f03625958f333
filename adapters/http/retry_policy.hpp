#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/backoff.hpp"

namespace quel {

/// How a failed call may be repeated (rule 17/18).
enum class retry_class {
  none,        // success: nothing to retry
  retryable,   // 429, 5xx, 544, timeouts, network, malformed 200
  retry_once,  // a model reply without an image: one more try at most
  permanent,   // other 4xx, refusals, quota exhausted
};

/// What to do after a failed attempt.
struct retry_decision {
  bool retry = false;
  std::chrono::milliseconds delay{0};
};

/// Parses a proto Duration such as "56s" or "0.539477544s" (rounded up to
/// whole milliseconds); nullopt otherwise.
std::optional<std::chrono::milliseconds> parse_proto_duration(std::string_view text);

/// The attempts of one operation (one image call, one storage call): counts
/// failures and answers whether and when to try again. Delays come from
/// backoff_policy (full jitter; a server hint up to the cap is honoured, a
/// longer one ends the retries). Not thread-safe; one instance per operation,
/// owned by whoever drives it.
class retry_policy {
public:
  explicit retry_policy(backoff_policy backoff = {},
                        backoff_policy::random_source random = system_random());

  /// Records a failed attempt of class `c` and decides about the next one.
  retry_decision on_failure(retry_class c,
                            std::optional<std::chrono::milliseconds> server_delay = {});

  /// Attempts that failed so far.
  int failures() const { return failures_; }

private:
  backoff_policy backoff_;
  backoff_policy::random_source random_;
  int failures_ = 0;
  int retry_once_failures_ = 0;
};

} // namespace quel
