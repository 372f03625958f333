#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/worker_metrics.hpp"
#include "adapters/postgres/pg_connection.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "messages/atoms.hpp"

namespace quel {

using queue_sampler_actor = caf::typed_actor<caf::reacts_to<tick_atom>>;

struct queue_sampler_state {
  std::shared_ptr<redis_queue> redis;
  std::unique_ptr<pg_connection> db;
  std::vector<std::string> queues;
  std::shared_ptr<worker_metrics> metrics;
  std::chrono::milliseconds interval{5000};
};

/// Samples, every `interval`, for each of `queues` (app/ passes every queue
/// of the modules file, served by this node or not; every node reports the
/// same fleet-wide values): its depth (LLEN) and
/// the age of the id taken next (LINDEX queue -1, the consuming end), i.e.
/// now - created_at of that id's job row on the database's clock; 0 when
/// the queue is empty or the id has no row. An id that went round the
/// queue again (requeued at shutdown, returned by the reaper) is as old as
/// its job, not as its latest push: the gauge is the backlog's age seen by
/// the job's owner. Also the dead-letter list's length (jobs:dead).
/// Detached: Redis and PostgreSQL calls block; an outage only leaves the
/// gauges at their last values.
queue_sampler_actor::behavior_type
queue_sampler_impl(queue_sampler_actor::stateful_pointer<queue_sampler_state> self,
                   std::shared_ptr<redis_queue> redis, std::string database_url,
                   std::vector<std::string> queues, std::shared_ptr<worker_metrics> metrics,
                   std::chrono::milliseconds interval);

} // namespace quel
