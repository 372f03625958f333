// `quel-worker retry | cancel | pause | resume`: operator actions that every
// node obeys, because they act only through PostgreSQL and Redis.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "adapters/postgres/pg_job_admin.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "app/job_actions.hpp"
#include "app/ops_commands.hpp"
#include "common/log_text.hpp"
#include "common/uuid.hpp"

namespace quel {

int retry_command(const worker_config& c, const std::vector<std::string>& ids) {
  if (ids.empty()) {
    std::cerr << "retry: give at least one job id\n";
    return 2;
  }
  pg_job_admin db{c.database_url};
  redis_queue redis{redis_endpoint::parse(c.redis_url)};
  int refused = 0;
  for (auto& id : ids) {
    auto r = retry_job(c, db, redis, id);
    if (r.ok) {
      std::cout << r.message << "\n";
    } else {
      std::cerr << "retry: " << r.message << "\n";
      ++refused;
    }
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
    auto r = cancel_job(db, redis, id);
    if (r.outcome == "cancelled") {
      std::cout << r.message << "\n";
    } else if (r.outcome == "cancel_requested") {
      std::cout << r.message << "\n";
      running.push_back(id);
    } else {
      std::cerr << "cancel: " << r.message << "\n";
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
  for (auto& name : names)
    std::cout << set_queue_paused(c, redis, name, paused).message << "\n";
  return 0;
}

} // namespace quel
