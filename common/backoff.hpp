#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace quel {

/// Exponential backoff with full jitter for retried calls (CONTRACT.md rule
/// 17): attempt n waits a uniform time in [0, min(cap, base * 2^(n-1))].
struct backoff_policy {
  /// A source of uniform numbers in [0, 1); injectable so tests are exact.
  using random_source = std::function<double()>;

  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{60000};
  /// Total attempts including the first one.
  int max_attempts = 5;

  /// The upper bound of the wait after failed attempt `attempt` (1-based).
  std::chrono::milliseconds ceiling(int attempt) const;

  /// The wait after failed attempt `attempt` (1-based), drawn from `random`.
  std::chrono::milliseconds delay(int attempt, const random_source& random) const;

  /// True when another attempt may follow `attempt` failed attempts.
  bool should_retry(int attempt) const { return attempt < max_attempts; }

  /// The wait after failed attempt `attempt`, honouring a server-given delay
  /// (`RetryInfo.retryDelay`) when there is one; nullopt means give up:
  /// attempts are used up, or the server asks for longer than `cap`.
  std::optional<std::chrono::milliseconds>
  delay_with_hint(int attempt, std::optional<std::chrono::milliseconds> hint,
                  const random_source& random) const;
};

/// A deterministic random source for a given seed (tests, reproducible runs).
backoff_policy::random_source seeded_random(uint64_t seed);

/// A random source seeded from std::random_device; thread-safe.
backoff_policy::random_source system_random();

} // namespace quel
