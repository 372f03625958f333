#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace quel {

/// Decides whether a failed child (image or stage actor) is restarted, and
/// after how long: exponential backoff with full jitter, up to a limit of
/// restarts. A plain class so the rule is unit-tested without actors.
class restart_policy {
public:
  using random_source = std::function<double()>;  // uniform in [0, 1)

  restart_policy(int max_restarts, std::chrono::milliseconds base,
                 std::chrono::milliseconds cap);

  /// The delay before restart number `restarts_so_far + 1`, or nullopt when
  /// the child is given up. `hint` is a server-given delay (RetryInfo); it
  /// wins over the computed one when it is longer.
  std::optional<std::chrono::milliseconds>
  next_delay(int restarts_so_far, const random_source& random,
             std::optional<std::chrono::milliseconds> hint = std::nullopt) const;

  int max_restarts() const { return max_restarts_; }

private:
  int max_restarts_;
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
};

/// A random_source backed by a thread-local engine.
double default_random();

} // namespace quel
