#include "actors/health_actor.hpp"

#include "common/log.hpp"

namespace quel {

health_actor::behavior_type
health_actor_impl(health_actor::stateful_pointer<health_state> self,
                  std::string database_url, std::shared_ptr<worker_metrics> metrics,
                  std::chrono::milliseconds interval) {
  self->state.db = std::make_unique<pg_admin>(database_url);
  self->state.metrics = std::move(metrics);
  self->state.interval = interval;
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      bool up = st.db->ping();
      if (up != st.metrics->database_up.exchange(up)) {
        if (up)
          log::info("postgresql is reachable");
        else
          log::warn("postgresql is unreachable; waiting for it");
      }
      self->delayed_send(self, st.interval, tick_atom::value);
    },
  };
}

} // namespace quel
