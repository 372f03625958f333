#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/queue_taker.hpp"
#include "actors/worker_context.hpp"
#include "messages/actor_types.hpp"

namespace quel {

struct queue_actor_state {
  job_context_ptr ctx;
  taker_spawner spawn_taker;  // injected by app/: one taker per queue
  redis_ops_actor redis;
  std::map<std::string, queue_taker_actor> takers;   // by queue
  std::map<std::string, caf::actor_addr> in_flight;  // job id (a UUID lower-cased) -> supervisor
  /// Supervisors (strong handles: they stay alive while their job runs)
  /// with the ticket each one works on.
  std::map<caf::actor_addr, std::pair<job_ticket, job_supervisor_actor>> tickets;
  int pending_redis = 0;       // acks / requeues not yet confirmed
  /// Job slots (worker.max_jobs) not in use. A slot is free, lent to a taker
  /// blocked on its queue (one each), or held by an id from its take until
  /// the id is settled in Redis; so a busy queue can use every slot the
  /// idle queues' takers are not waiting with.
  int free_slots = 0;
  std::deque<std::string> takers_waiting;  // queues whose taker has no slot
  bool housekeeping_pending = false; // one request at a time, even in outages
  std::multiset<std::string> settling;  // ids with a Redis ack/requeue pending
  /// (queue, id) found in our processing lists with no job in flight at the
  /// last housekeeping pass: an id whose BLMOVE reply was lost on a broken
  /// connection. Still there at the next pass, it goes back to its queue.
  std::set<std::pair<std::string, std::string>> strays;
  bool started = false;
  bool stopping = false;
  bool aborted = false;
  std::chrono::steady_clock::time_point deadline;
};

/// The node's front door (one per process):
///
///   start: take back own leftovers ──▶ spawn a taker per queue, lend slots
///   taken(id) ──▶ duplicate in flight? ack the copy : spawn JobSupervisor
///   job_end ──▶ ack | requeue | dead-letter in Redis ──▶ slot back (waiting taker first)
///   tick ──▶ renew node lease, reap expired nodes; --drain: quit when idle
///   stop ──▶ stop takers, wait for jobs until the deadline, then abort them
///            (their ids go back to the queue) ──▶ quit
queue_actor::behavior_type
queue_actor_impl(queue_actor::stateful_pointer<queue_actor_state> self,
                 job_context_ptr ctx, taker_spawner spawn_taker,
                 redis_ops_actor redis);

} // namespace quel
