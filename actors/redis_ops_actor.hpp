#pragma once

#include <atomic>
#include <memory>

#include "actors/io_actor_state.hpp"
#include "actors/worker_metrics.hpp"
#include "adapters/redis/queue_store.hpp"
#include "messages/actor_types.hpp"

namespace quel {

using redis_ops_state = io_actor_state<queue_store>;

/// The QueueActor's Redis bookkeeping on a connection of its own (app/
/// spawns it detached with its own store): acks, requeues, dead letters,
/// and the housekeeping pass (adapters/redis/housekeeping.hpp: node lease,
/// the reaper that returns the ids of expired nodes to their queues).
redis_ops_actor::behavior_type
redis_ops_impl(redis_ops_actor::stateful_pointer<redis_ops_state> self,
               std::shared_ptr<queue_store> redis, std::shared_ptr<worker_metrics> metrics,
               std::shared_ptr<std::atomic<bool>> give_up);

} // namespace quel
