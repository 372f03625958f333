#pragma once

#include <atomic>
#include <memory>

#include "actors/worker_metrics.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "messages/actor_types.hpp"

namespace quel {

struct redis_ops_state {
  std::unique_ptr<redis_queue> redis;
  std::shared_ptr<worker_metrics> metrics;
  std::shared_ptr<std::atomic<bool>> give_up;
};

/// The QueueActor's Redis bookkeeping on a connection of its own (detached):
/// acks, requeues, dead letters, the node lease and the reaper that returns
/// the ids of nodes whose lease expired to their queues.
redis_ops_actor::behavior_type
redis_ops_impl(redis_ops_actor::stateful_pointer<redis_ops_state> self,
               redis_endpoint endpoint, std::shared_ptr<worker_metrics> metrics,
               std::shared_ptr<std::atomic<bool>> give_up);

} // namespace quel
