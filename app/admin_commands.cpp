#include "app/admin_commands.hpp"

#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/pg_admin.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "app/job_actions.hpp"
#include "common/uuid.hpp"

namespace quel {

int migrate_command(const worker_config& c) {
  auto applied = apply_migrations(c.database_url);
  if (applied.empty())
    std::cout << "migrations: up to date\n";
  for (auto& name : applied)
    std::cout << "applied " << name << "\n";
  return 0;
}

int enqueue_command(const worker_config& c, const std::string& module,
                    const std::vector<std::string>& ids) {
  if (ids.empty()) {
    std::cerr << "enqueue: give at least one job id\n";
    return 2;
  }
  // Every known module, served by this configuration or not: ids belong on
  // their own module's queue whatever worker.modules says.
  const module_config* forced = nullptr;
  if (!module.empty()) {
    forced = c.known_modules.find(module);
    if (forced == nullptr) {
      std::cerr << "enqueue: unknown module \"" << module << "\"\n";
      return 2;
    }
  }
  redis_queue redis{redis_endpoint::parse(c.redis_url)};
  std::unique_ptr<pg_admin> db;
  for (auto& id : ids) {
    auto* target = forced;
    if (target == nullptr && is_uuid(id)) {
      if (!db)
        db = std::make_unique<pg_admin>(c.database_url);
      target = c.known_modules.for_job(db->module_of_job(id));
    }
    // Rule 5: else fashion's (a job naming an unknown module is failed as
    // invalid input by the worker that takes it).
    if (target == nullptr)
      target = c.known_modules.find("fashion");
    if (target == nullptr) {
      std::cerr << "enqueue: no module for " << id << " and fashion is not configured\n";
      return 2;
    }
    redis.push(target->queue, id);
    std::cout << "enqueued " << id << " on " << target->queue << "\n";
  }
  return 0;
}

int requeue_dead_command(const worker_config& c, bool all,
                         const std::vector<std::string>& ids) {
  if (!all && ids.empty()) {
    std::cerr << "requeue-dead: give ids or --all\n";
    return 2;
  }
  redis_queue redis{redis_endpoint::parse(c.redis_url)};
  auto moved = requeue_dead_letters(redis, all, ids);
  for (auto& r : moved)
    std::cout << r.message << "\n";
  std::cout << moved.size() << " dead letters requeued\n";
  return 0;
}

} // namespace quel
