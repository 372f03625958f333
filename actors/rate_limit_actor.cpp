#include "actors/rate_limit_actor.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace quel {

namespace {

using self_ptr = rate_limit_actor::stateful_pointer<rate_limit_state>;

constexpr std::chrono::milliseconds redis_retry{1000};

/// Reserves the slot of waiter `id`: answers at once, at its slot (timer),
/// or tries again later when Redis cannot be reached.
void reserve(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.waiting.find(id);
  if (i == st.waiting.end())
    return;
  std::chrono::milliseconds wait{0};
  try {
    wait = st.redis->reserve_rate_slot(st.key, st.interval);
  } catch (const std::exception& e) {
    log::limited(log::level::warn, "model-rate-limit", 10000,
                 "Model rate limit: Redis does not answer; model calls wait",
                 {{"error", e.what()}});
    i->second.retry = true;
    self->delayed_send(self, redis_retry, run_atom::value, id);
    return;
  }
  if (wait.count() <= 0) {
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - i->second.asked);
    i->second.promise.deliver(static_cast<int64_t>(waited.count()));
    st.waiting.erase(i);
    return;
  }
  i->second.retry = false;
  self->delayed_send(self, wait, run_atom::value, id);
}

} // namespace

rate_limit_actor::behavior_type
rate_limit_actor_impl(rate_limit_actor::stateful_pointer<rate_limit_state> self,
                      std::shared_ptr<redis_queue> redis, int requests_per_minute) {
  auto& st = self->state;
  st.redis = std::move(redis);
  st.key = model_rate_key();
  st.interval = std::chrono::milliseconds(60000 / std::max(requests_per_minute, 1));
  return {
    [self](rate_atom) -> caf::result<int64_t> {
      auto& st = self->state;
      auto id = st.next_id++;
      auto rp = self->make_response_promise<int64_t>();
      st.waiting.emplace(id, rate_limit_state::waiter{rp, std::chrono::steady_clock::now()});
      reserve(self, id);
      return rp;
    },
    [self](run_atom, uint64_t id) {
      auto& st = self->state;
      auto i = st.waiting.find(id);
      if (i == st.waiting.end())
        return;
      if (i->second.retry)
        return reserve(self, id);
      auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - i->second.asked);
      i->second.promise.deliver(static_cast<int64_t>(waited.count()));
      st.waiting.erase(i);
    },
  };
}

} // namespace quel
