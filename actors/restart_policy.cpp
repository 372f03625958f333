#include "actors/restart_policy.hpp"

#include <algorithm>
#include <random>

namespace quel {

restart_policy::restart_policy(int max_restarts, std::chrono::milliseconds base,
                               std::chrono::milliseconds cap)
  : max_restarts_(max_restarts), base_(base), cap_(cap) {
}

std::optional<std::chrono::milliseconds>
restart_policy::next_delay(int restarts_so_far, const random_source& random,
                           std::optional<std::chrono::milliseconds> hint) const {
  if (restarts_so_far >= max_restarts_)
    return std::nullopt;
  // Full jitter (uniform in [0, min(cap, base * 2^n)]) spreads the retries of
  // many images that failed together, e.g. on one rate limit.
  auto exponent = std::min(restarts_so_far, 30);
  auto ceiling = std::min<int64_t>(cap_.count(),
                                   base_.count() * (int64_t{1} << exponent));
  auto delay = std::chrono::milliseconds(
    static_cast<int64_t>(random() * static_cast<double>(ceiling)));
  if (hint && *hint > delay)
    delay = *hint;
  return delay;
}

double default_random() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

} // namespace quel
