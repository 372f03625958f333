#include "actors/generator_view_actor.hpp"

#include "common/log.hpp"

namespace quel {

generator_view_actor::behavior_type
generator_view_impl(generator_view_actor::stateful_pointer<generator_view_state> self,
                    std::shared_ptr<redis_queue> redis, std::string node_id,
                    std::chrono::milliseconds ttl) {
  auto& st = self->state;
  st.redis = std::move(redis);
  st.node_id = std::move(node_id);
  st.ttl = ttl;
  // The state is gone when attached functors run: they keep their own copies.
  self->attach_functor([redis = st.redis, node = st.node_id] {
    try {
      redis->withdraw_generator_view(node);
    } catch (const std::exception&) {
      // Redis down at the stop: the view expires after the lease TTL.
    }
  });
  return {
    [self](gen_view_atom, const std::map<std::string, std::string>& view) -> bool {
      auto& st = self->state;
      try {
        st.redis->publish_generator_view(st.node_id, view, st.ttl);
        st.failing = false;
        return true;
      } catch (const std::exception& e) {
        if (!st.failing)
          log::warn("Cannot write the generator nodes' view to Redis; status will not "
                    "show them until it works again",
                    {{"error", e.what()}});
        st.failing = true;
        return false;
      }
    },
  };
}

} // namespace quel
