#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actors/worker_context.hpp"
#include "domain/job_progress.hpp"
#include "messages/actor_types.hpp"

namespace quel {

struct stage_run {
  stage_actor actor;  // strong: the supervisor keeps its running stage alive
  int restarts = 0;
};

struct job_supervisor_state {
  job_ticket ticket;
  ids::job id;              // the ticket's job id, as the job store takes it
  job_context_ptr ctx;
  queue_actor queue;
  claimed_job job;
  lease_clock_ptr lease = std::make_shared<lease_clock>();
  const module_config* module = nullptr;
  std::unique_ptr<job_progress> progress;
  std::map<int, stage_run> stages;                 // by stage_index
  std::map<std::pair<int, int>, blob> outputs;     // made images' bytes
  std::map<int64_t, std::string> input_keys;       // attach id -> key
  bool rechecked = false;   // a missing row was looked up a second time
  bool waiting = false;     // unclaimed, a recheck timer pending
  int renew_failures = 0;   // consecutive failed lease renewals
  int claim_failures = 0;   // failed claim requests (retried with backoff)
  bool ended = false;
  /// When the supervisor was spawned (the id was taken): job duration.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  bool cancel_looked = false;  // the first look for a cancel came back: stages may start
  bool cancelling = false;  // an operator's cancel was seen: no new work
};

/// One per job id taken. States:
///
///   claim ──missing──▶ recheck after a delay ──still missing──▶ dead letter
///     │ finished ──▶ drop (ack)
///     │ leased elsewhere ──holder has the id──▶ drop (ack)
///     │        └──holder lost it──▶ claim again when its lease expires
///     │ (while unclaimed, a node shutdown (stop) hands the id back at once)
///     ▼ claimed (epoch)
///   validate input + attach rows ──invalid──▶ job failed, nothing charged
///     ▼
///   start (processing) ──▶ run stages whose inputs exist ◀─┐
///     │        stage crashed: restart with backoff ────────┘ (give up by policy)
///     ▼ every stage done
///   finish (completed | failed + summary) ──▶ ack
///
/// While the job runs it looks for an operator's cancel (the Redis key
/// quel:cancel:<id>, `quel-worker cancel`) twice a second; once seen, no
/// stage or image starts, running images end as usual, and the job finishes
/// failed with error_message "cancelled" (the finish releases its holds).
///
/// The lease is renewed while the job runs; every write names the epoch, so
/// a supervisor that lost its lease cannot write anything (fencing).
job_supervisor_actor::behavior_type
job_supervisor_impl(job_supervisor_actor::stateful_pointer<job_supervisor_state> self,
                    job_ticket ticket, job_context_ptr ctx, queue_actor queue);

} // namespace quel
