#include "app/job_actions.hpp"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "adapters/postgres/pg_job_admin.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "common/log_text.hpp"
#include "common/uuid.hpp"

namespace quel {

namespace {

std::string shown(const std::string& text) {
  return escape_controls(redact_and_clip(text, max_id_chars));
}

// A cancel request outlives any lease: a node that takes the job over after
// the one running it died must still see it.
constexpr std::chrono::hours cancel_key_ttl{24};

action_outcome outcome(bool ok, std::string what, std::string message) {
  return action_outcome{ok, std::move(what), std::move(message)};
}

} // namespace

action_outcome retry_job(const worker_config& c, pg_job_admin& db, redis_queue& redis,
                         const std::string& id) {
  if (!is_uuid(id))
    return outcome(false, "invalid", shown(id) + " is not a job id");
  // An old cancel request must not stop the new run.
  redis.clear_cancel(id);
  auto r = db.retry(id);
  if (r.outcome == "missing")
    return outcome(false, "missing", "no job " + id);
  if (r.outcome != "retried")
    return outcome(false, "not_failed",
                   "job " + id + " is " + shown(r.status.value_or("?")) + ", not failed; left alone");
  // The row is pending now; pushing after the commit means a worker that
  // takes the id finds it pending. Should the push fail, the reconciler
  // finds the pending job and pushes it (worker.reconcile_age).
  auto* module = c.known_modules.for_job(r.module);
  if (module == nullptr)
    module = c.known_modules.find("fashion");
  if (module == nullptr)
    return outcome(false, "no_queue", "no queue for job " + id);
  redis.push(module->queue, id);
  return outcome(true, "retried", "retrying " + id + " on " + module->queue);
}

action_outcome cancel_job(pg_job_admin& db, redis_queue& redis, const std::string& id) {
  if (!is_uuid(id))
    return outcome(false, "invalid", shown(id) + " is not a job id");
  // The key first: a node that claims the job between the two steps sees it
  // before its first image; then the database ends the job at once if no
  // live worker runs it.
  redis.request_cancel(id, cancel_key_ttl);
  auto r = db.cancel_idle(id);
  if (r.outcome == "cancelled")
    return outcome(true, "cancelled", "cancelled " + id);
  if (r.outcome == "running")
    return outcome(true, "cancel_requested",
                   "cancel requested for " + id + " (running on " + shown(r.owner.value_or("?"))
                     + "); it stops at its next image");
  redis.clear_cancel(id);
  if (r.outcome == "finished")
    return outcome(false, "finished",
                   "job " + id + " is already " + shown(r.status.value_or("?")));
  return outcome(false, "missing", "no job " + id);
}

action_outcome set_queue_paused(const worker_config& c, redis_queue& redis,
                                const std::string& name, bool paused) {
  // A module name stands for its queue; any other name is taken as a queue
  // (a queue of a modules file this configuration does not have).
  std::string queue = name;
  std::string warning;
  if (auto* m = c.known_modules.find(name))
    queue = m->queue;
  else if (c.known_modules.by_queue(name) == nullptr)
    warning = " (warning: " + shown(name) + " is neither a known queue nor a module)";
  redis.set_paused(queue, paused);
  return outcome(true, paused ? "paused" : "resumed",
                 (paused ? "paused " : "resumed ") + queue + warning);
}

std::vector<action_outcome> requeue_dead_letters(redis_queue& redis, bool all,
                                                 const std::vector<std::string>& ids) {
  std::vector<action_outcome> moved;
  auto dead_key = redis_keys::dead_letter();
  for (auto& entry : redis.range(dead_key)) {
    auto j = nlohmann::json::parse(entry, nullptr, false);
    if (!j.is_object())
      continue;
    auto id = j.value("id", "");
    auto queue = j.value("queue", "");
    bool wanted = all || std::find(ids.begin(), ids.end(), id) != ids.end();
    if (!wanted || queue.empty())
      continue;
    // Push first, then remove the entry: a crash in between leaves a
    // duplicate dead letter, never a lost id.
    redis.push(queue, id);
    redis.remove(dead_key, entry);
    moved.push_back(outcome(true, "requeued", "requeued " + shown(id) + " on " + shown(queue)));
  }
  return moved;
}

} // namespace quel
