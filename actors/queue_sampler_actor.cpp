#include "actors/queue_sampler_actor.hpp"

#include "adapters/postgres/job_age.hpp"
#include "common/log.hpp"

namespace quel {

namespace {

void sample(queue_sampler_state& st) {
  for (auto& queue : st.queues) {
    auto depth = st.redis->length(queue);
    st.metrics->queue_depth.set({queue}, static_cast<double>(depth));
    double age = 0;
    if (depth > 0) {
      auto next = st.redis->range(queue, -1, -1);
      if (!next.empty())
        age = job_age_seconds(*st.db, next.front()).value_or(0);
    }
    st.metrics->queue_oldest_age.set({queue}, age);
  }
  st.metrics->dead_letters.set({}, static_cast<double>(
                                      st.redis->length(redis_keys::dead_letter())));
}

} // namespace

queue_sampler_actor::behavior_type
queue_sampler_impl(queue_sampler_actor::stateful_pointer<queue_sampler_state> self,
                   std::shared_ptr<redis_queue> redis, std::string database_url,
                   std::vector<std::string> queues, std::shared_ptr<worker_metrics> metrics,
                   std::chrono::milliseconds interval) {
  auto& st = self->state;
  st.redis = std::move(redis);
  st.db = std::make_unique<pg_connection>(std::move(database_url));
  st.queues = std::move(queues);
  st.metrics = std::move(metrics);
  st.interval = interval;
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      try {
        sample(st);
      } catch (const std::exception& e) {
        log::limited(log::level::warn, "queue-sampler", 60000,
                     "Queue metrics not sampled", {{"error", e.what()}});
      }
      self->delayed_send(self, st.interval, tick_atom::value);
    },
  };
}

} // namespace quel
