#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>

namespace quel {

/// Exponential backoff with full jitter: attempt n waits a uniform time in
/// [0, min(cap, base * 2^(n-1))]. The one policy for every wait of the
/// worker: retried images and stages (CONTRACT.md rule 17, configured under
/// [retry]) and waiting out a Redis or PostgreSQL outage (outage_backoff).
struct backoff_policy {
  /// A source of uniform numbers in [0, 1); injectable so tests are exact.
  using random_source = std::function<double()>;

  std::chrono::milliseconds base{1000};
  std::chrono::milliseconds cap{60000};
  /// Total attempts including the first one.
  int max_attempts = 5;

  /// max_attempts of a policy that never gives up.
  static constexpr int unlimited = std::numeric_limits<int>::max();

  /// The upper bound of the wait after failed attempt `attempt` (1-based).
  std::chrono::milliseconds ceiling(int attempt) const;

  /// The wait after failed attempt `attempt` (1-based), drawn from `random`.
  std::chrono::milliseconds delay(int attempt, const random_source& random) const;

  /// True when another attempt may follow `attempt` failed attempts.
  bool should_retry(int attempt) const {
    return max_attempts == unlimited || attempt < max_attempts;
  }

  /// The wait after failed attempt `attempt`, honouring a server-given delay
  /// (`RetryInfo.retryDelay`) when there is one; nullopt means give up:
  /// attempts are used up, or the server asks for longer than `cap`.
  std::optional<std::chrono::milliseconds>
  delay_with_hint(int attempt, std::optional<std::chrono::milliseconds> hint,
                  const random_source& random) const;
};

/// Waiting out an outage of Redis or PostgreSQL: never gives up, and the
/// ceiling grows from 100 ms to 5 s, so a recovered server is noticed within
/// about 5 s while a long outage costs one attempt per 2.5 s on average.
backoff_policy outage_backoff();

/// The waits of one retry loop under a policy: each failure makes the next
/// wait (drawn from the policy), a success starts over. Not thread-safe; one
/// per loop.
class backoff_sequence {
public:
  backoff_sequence(backoff_policy policy, backoff_policy::random_source random);

  /// Records a failure; the wait before the next attempt (the policy's
  /// delay for it), or nullopt when its attempts are used up.
  std::optional<std::chrono::milliseconds> next();

  /// Records a success: the next failure waits as little as the first.
  void reset() { failures_ = 0; }

  /// Failures since the last success.
  int failures() const { return failures_; }

private:
  backoff_policy policy_;
  backoff_policy::random_source random_;
  int failures_ = 0;
};

/// A deterministic random source for a given seed (tests, reproducible runs).
backoff_policy::random_source seeded_random(uint64_t seed);

/// A random source seeded from std::random_device; thread-safe.
backoff_policy::random_source system_random();

} // namespace quel
