#pragma once

#include <functional>
#include <memory>
#include <string>

#include "actors/worker_metrics.hpp"
#include "adapters/redis/queue_store.hpp"
#include "common/backoff.hpp"
#include "messages/actor_types.hpp"
#include "messages/errors.hpp"

namespace quel {

struct queue_taker_state {
  std::shared_ptr<queue_store> redis;
  job_ticket blank;          // queue, module and processing list
  queue_actor parent;
  std::chrono::milliseconds timeout{1000};
  std::shared_ptr<worker_metrics> metrics;
  int permits = 0;           // ids it may still take
  bool polling = false;
  bool paused = false;       // the queue is paused (quel:paused); logged on change
  backoff_sequence outage{outage_backoff(), retry_random()};  // Redis down
};

/// Takes ids off one queue with BLMOVE into this node's processing list, so
/// an id is never only in memory (CONTRACT.md section 2). Spawned detached:
/// BLMOVE blocks for up to `timeout`, which also bounds how long a shutdown
/// waits for it. Takes only as many ids as the QueueActor grants permits.
/// `redis` is its own: a blocked BLMOVE holds the connection.
queue_taker_actor::behavior_type
queue_taker_impl(queue_taker_actor::stateful_pointer<queue_taker_state> self,
                 std::shared_ptr<queue_store> redis, job_ticket blank, queue_actor parent,
                 std::chrono::milliseconds timeout,
                 std::shared_ptr<worker_metrics> metrics);

/// Starts the taker of one queue (`blank` names it) for `parent`. Injected
/// into the QueueActor by app/, which spawns queue_taker_impl detached on a
/// connection of its own; unit tests spawn takers on the test coordinator.
using taker_spawner = std::function<queue_taker_actor(job_ticket blank, queue_actor parent)>;

} // namespace quel
