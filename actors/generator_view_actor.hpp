#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "adapters/redis/redis_queue.hpp"
#include "messages/generator_messages.hpp"

/// Writes the generator router's view of its generator nodes to Redis for
/// `quel-worker status` (redis_keys::generator_view, expiring after `ttl`
/// unless rewritten; docs/DISTRIBUTED.md "Watching the mesh"). Detached:
/// hiredis blocks, and the router that feeds it is cooperative. Replies
/// false when Redis is unreachable (logged once until it works again); the
/// view then simply expires. On exit (the router ends it when it stops)
/// the view is deleted, so a clean stop leaves nothing behind.
namespace quel {

struct generator_view_state {
  std::shared_ptr<redis_queue> redis;  // shared with the exit hook
  std::string node_id;
  std::chrono::milliseconds ttl{30000};
  bool failing = false;
};

generator_view_actor::behavior_type
generator_view_impl(generator_view_actor::stateful_pointer<generator_view_state> self,
                    std::shared_ptr<redis_queue> redis, std::string node_id,
                    std::chrono::milliseconds ttl);

} // namespace quel
