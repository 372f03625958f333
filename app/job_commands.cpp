// `quel-worker retry | cancel | pause | resume`: operator actions that every
// node obeys, because they act only through PostgreSQL and Redis.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "adapters/postgres/pg_job_admin.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "app/ops_commands.hpp"
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

} // namespace

int retry_command(const worker_config& c, const std::vector<std::string>& ids) {
  if (ids.empty()) {
    std::cerr << "retry: give at least one job id\n";
    return 2;
  }
  pg_job_admin db{c.database_url};
  redis_queue redis{redis_endpoint::parse(c.redis_url)};
  int refused = 0;
  for (auto& id : ids) {
    if (!is_uuid(id)) {
      std::cerr << "retry: " << shown(id) << " is not a job id\n";
      ++refused;
      continue;
    }
    // An old cancel request must not stop the new run.
    redis.clear_cancel(id);
    auto r = db.retry(id);
    if (r.outcome == "missing") {
      std::cerr << "retry: no job " << id << "\n";
      ++refused;
      continue;
    }
    if (r.outcome != "retried") {
      std::cerr << "retry: job " << id << " is " << shown(r.status.value_or("?"))
                << ", not failed; left alone\n";
      ++refused;
      continue;
    }
    // The row is pending now; pushing after the commit means a worker that
    // takes the id finds it pending. Should the push fail, the reconciler
    // finds the pending job and pushes it (worker.reconcile_age).
    auto* module = c.known_modules.for_job(r.module);
    if (module == nullptr)
      module = c.known_modules.find("fashion");
    if (module == nullptr) {
      std::cerr << "retry: no queue for job " << id << "\n";
      ++refused;
      continue;
    }
    redis.push(module->queue, id);
    std::cout << "retrying " << id << " on " << module->queue << "\n";
  }
  return refused == 0 ? 0 : 1;
}

int cancel_command(const worker_config& c, const cli_args& args) {
  auto& ids = args.positional;
  if (ids.empty()) {
    std::cerr << "cancel: give at least one job id\n";
    return 2;
  }
  double timeout_s = 60;
  if (auto t = args.options.find("timeout"); t != args.options.end()) {
    char* end = nullptr;
    timeout_s = std::strtod(t->second.c_str(), &end);
    if (t->second.empty() || *end != '\0' || !(timeout_s >= 0 && timeout_s <= 86400)) {
      std::cerr << "cancel: --timeout must be a number of seconds in 0..86400\n";
      return 2;
    }
  }
  pg_job_admin db{c.database_url};
  redis_queue redis{redis_endpoint::parse(c.redis_url)};
  int refused = 0;
  std::vector<std::string> running;
  for (auto& id : ids) {
    if (!is_uuid(id)) {
      std::cerr << "cancel: " << shown(id) << " is not a job id\n";
      ++refused;
      continue;
    }
    // The key first: a node that claims the job between the two steps sees
    // it before its first image; then the database ends the job at once if
    // no live worker runs it.
    redis.request_cancel(id, cancel_key_ttl);
    auto r = db.cancel_idle(id);
    if (r.outcome == "cancelled") {
      std::cout << "cancelled " << id << "\n";
    } else if (r.outcome == "running") {
      std::cout << "cancel requested for " << id << " (running on "
                << shown(r.owner.value_or("?")) << "); it stops at its next image\n";
      running.push_back(id);
    } else if (r.outcome == "finished") {
      redis.clear_cancel(id);
      std::cerr << "cancel: job " << id << " is already " << shown(r.status.value_or("?"))
                << "\n";
      ++refused;
    } else {
      redis.clear_cancel(id);
      std::cerr << "cancel: no job " << id << "\n";
      ++refused;
    }
  }
  // Wait for the nodes running them; a node that dies meanwhile leaves the
  // job to the next claimer, which sees the key and ends it the same way.
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  while (!running.empty()) {
    for (auto i = running.begin(); i != running.end();) {
      auto job = db.job(*i);
      if (job && (job->status == "failed" || job->status == "completed")) {
        std::cout << (job->status == "failed" ? "cancelled " : "completed before the cancel: ")
                  << *i << " (" << job->completed_images << "/" << job->total_images
                  << " made)\n";
        i = running.erase(i);
      } else if (job && !job->lease_live) {
        // Its node went away: end it here rather than wait for a takeover.
        auto r = db.cancel_idle(*i);
        if (r.outcome == "cancelled" || r.outcome == "finished")
          continue;  // reported on the next look
        ++i;
      } else {
        ++i;
      }
    }
    if (running.empty())
      break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (auto& id : running)
        std::cerr << "cancel: " << id << " has not ended yet; it will stop at its next "
                                         "image (see quel-worker status " << id << ")\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return refused == 0 ? 0 : 1;
}

int pause_command(const worker_config& c, const std::vector<std::string>& names,
                  bool paused) {
  const char* verb = paused ? "pause" : "resume";
  if (names.empty()) {
    std::cerr << verb << ": give at least one queue or module\n";
    return 2;
  }
  redis_queue redis{redis_endpoint::parse(c.redis_url)};
  for (auto& name : names) {
    // A module name stands for its queue; any other name is taken as a queue
    // (a queue of a modules file this configuration does not have).
    std::string queue = name;
    if (auto* m = c.known_modules.find(name))
      queue = m->queue;
    else if (c.known_modules.by_queue(name) == nullptr)
      std::cerr << verb << ": warning: " << shown(name)
                << " is neither a known queue nor a module\n";
    redis.set_paused(queue, paused);
    std::cout << (paused ? "paused " : "resumed ") << queue << "\n";
  }
  return 0;
}

} // namespace quel
