#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/actor_pool.hpp"
#include "common/backoff.hpp"
#include "actors/worker_metrics.hpp"
#include "domain/image_format.hpp"
#include "domain/job_spec.hpp"
#include "domain/module_catalog.hpp"
#include "messages/actor_types.hpp"

namespace quel {

/// Settings the actors act on (a slice of worker_config, no file parsing).
struct worker_settings {
  std::string node_id;
  std::chrono::milliseconds lease_ttl{30000};
  std::chrono::milliseconds missing_job_recheck{2000};
  std::chrono::milliseconds take_timeout{1000};
  std::chrono::milliseconds shutdown_deadline{25000};
  std::chrono::milliseconds housekeeping_interval{1000};
  int max_jobs = 16;
  int max_attempts = 5;            // claims of one job before quarantine
  job_limits limits;
  output_format format = output_format::webp;
  /// Attempts of one image (restarts of its ImageActor) and of one stage
  /// (restarts of its StageActor): exponential backoff with full jitter.
  backoff_policy image_retry{std::chrono::milliseconds(1000),
                             std::chrono::milliseconds(60000), 5};
  backoff_policy stage_retry{std::chrono::milliseconds(1000),
                             std::chrono::milliseconds(60000), 5};
  bool drain = false;              // run --drain: stop when all is done
};

/// What every JobSupervisor, StageActor and ImageActor needs: the settings,
/// the module catalog and the handles of the shared I/O actors. Built once
/// by app/worker_runtime and shared read-only.
struct worker_context {
  worker_settings settings;
  module_catalog modules;
  actor_pool<job_store_actor> job_stores;
  credit_actor credits;
  actor_pool<fetch_actor> fetchers;
  actor_pool<store_actor> storers;
  actor_pool<generate_actor> generators;
  slots_actor image_slots;
  /// The node's Redis bookkeeping; supervisors ask it whether a job's lease
  /// holder still has the job's id (see job_supervisor's claim).
  redis_ops_actor redis;
  std::shared_ptr<worker_metrics> metrics;
};

using worker_context_ptr = std::shared_ptr<const worker_context>;

} // namespace quel
