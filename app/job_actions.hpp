#pragma once

#include <string>
#include <vector>

#include "app/worker_config.hpp"

/// The operator actions themselves, one job, queue or dead letter at a time,
/// shared by the CLI (`retry`, `cancel`, `pause`, `resume`, `requeue-dead`)
/// and the dashboard's JSON API, so both act in exactly the same way. Each
/// acts only through Redis and PostgreSQL (any node may run it and every
/// node obeys) and reports in words what happened; nothing here prints.
namespace quel {

class pg_job_admin;
class redis_queue;

struct action_outcome {
  /// Did the action take effect (for cancel: ended, or requested of the
  /// node that runs the job)?
  bool ok = false;
  /// `retried`, `cancelled`, `cancel_requested`, `paused`, `resumed`,
  /// `requeued`, `not_failed`, `finished`, `missing`, `invalid`, ...
  std::string outcome;
  /// One line for an operator, e.g. `retrying 3f2a... on quel:queue:fashion`.
  std::string message;
};

/// A failed job back to pending and onto its module's queue.
action_outcome retry_job(const worker_config& c, pg_job_admin& db, redis_queue& redis,
                         const std::string& job_id);

/// Sets the cancel key, then ends the job at once when no live worker runs
/// it (`cancelled`); else the node running it stops at its next image
/// (`cancel_requested`).
action_outcome cancel_job(pg_job_admin& db, redis_queue& redis, const std::string& job_id);

/// Pauses or resumes a queue (a module name stands for its queue).
action_outcome set_queue_paused(const worker_config& c, redis_queue& redis,
                                const std::string& name, bool paused);

/// Pushes the dead letters whose id is in `ids` (every one with `all`) back
/// onto the queue they came from: one outcome per entry moved. An id that is
/// no dead letter gives no outcome.
std::vector<action_outcome> requeue_dead_letters(redis_queue& redis, bool all,
                                                 const std::vector<std::string>& ids);

} // namespace quel
