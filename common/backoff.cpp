#include "common/backoff.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <random>

namespace quel {

using std::chrono::milliseconds;

milliseconds backoff_policy::ceiling(int attempt) const {
  auto ceiling = base.count();
  // Doubling stops at the cap, so a large attempt number cannot overflow.
  for (int i = 1; i < attempt && ceiling < cap.count(); ++i)
    ceiling *= 2;
  return milliseconds(std::max<int64_t>(0, std::min<int64_t>(ceiling, cap.count())));
}

milliseconds backoff_policy::delay(int attempt, const random_source& random) const {
  auto top = ceiling(attempt).count();
  // Clamp a misbehaving source rather than exceed the ceiling.
  auto u = std::clamp(random ? random() : 0.0, 0.0, 1.0);
  auto ms = static_cast<int64_t>(u * static_cast<double>(top));
  return milliseconds(std::min<int64_t>(ms, top));
}

std::optional<milliseconds>
backoff_policy::delay_with_hint(int attempt, std::optional<milliseconds> hint,
                                const random_source& random) const {
  if (!should_retry(attempt))
    return std::nullopt;
  if (hint) {
    if (*hint > cap)
      return std::nullopt;
    return std::max(*hint, milliseconds(0));
  }
  return delay(attempt, random);
}

backoff_policy outage_backoff() {
  return backoff_policy{milliseconds(100), milliseconds(5000), backoff_policy::unlimited};
}

backoff_sequence::backoff_sequence(backoff_policy policy, backoff_policy::random_source random)
  : policy_(policy), random_(std::move(random)) {
}

std::optional<milliseconds> backoff_sequence::next() {
  if (failures_ < backoff_policy::unlimited)  // an endless outage does not overflow
    ++failures_;
  if (!policy_.should_retry(failures_))
    return std::nullopt;
  return policy_.delay(failures_, random_);
}

backoff_policy::random_source seeded_random(uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine] {
    return std::uniform_real_distribution<double>(0.0, 1.0)(*engine);
  };
}

backoff_policy::random_source system_random() {
  struct state {
    std::mutex mutex;
    std::mt19937_64 engine{std::random_device{}()};
  };
  auto s = std::make_shared<state>();
  return [s] {
    std::lock_guard<std::mutex> guard(s->mutex);
    return std::uniform_real_distribution<double>(0.0, 1.0)(s->engine);
  };
}

} // namespace quel
