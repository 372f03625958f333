#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/actor_pool.hpp"
#include "common/backoff.hpp"
#include "common/byte_budget.hpp"
#include "actors/worker_metrics.hpp"
#include "domain/image_format.hpp"
#include "domain/job_spec.hpp"
#include "domain/model_request.hpp"
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

// Each actor role gets a context with what it uses and what it hands down,
// nothing more; the three nest (a job's context holds its stages', a
// stage's holds its images'), so app/worker_runtime builds them once and a
// parent passes its child the inner part (an aliasing shared_ptr, no copy).

/// What an ImageActor uses: the image ledger and the media pools.
struct image_context {
  output_format format = worker_settings{}.format;
  image_ledger_actor ledger;
  actor_pool<fetch_actor> fetchers;
  actor_pool<store_actor> storers;
  actor_pool<generate_actor> generators;
  /// The byte budget (worker.max_inflight_bytes) that model replies are
  /// counted in as they arrive; null: replies are not counted (tests).
  std::shared_ptr<byte_budget> reply_budget;
  std::shared_ptr<worker_metrics> metrics;
};

/// What a StageActor uses, and what its ImageActors get.
struct stage_context {
  /// Restarts of one image (of its ImageActor), and the most bytes one
  /// input may have: copied from worker_settings.
  backoff_policy image_retry = worker_settings{}.image_retry;
  int64_t max_input_bytes = job_limits{}.max_input_bytes;
  slots_actor image_slots;
  /// Admissions to the byte budget of image work in flight
  /// (worker.max_inflight_bytes): what an image holds before it starts.
  byte_budget_actor image_bytes;
  /// The largest request the model accepts (0: no limit, the local
  /// generator).
  int64_t max_request_bytes = 0;
  std::shared_ptr<worker_metrics> metrics;
  image_context images;
};

/// What the QueueActor and each JobSupervisor use, and what their stages
/// get. Shared read-only.
struct job_context {
  worker_settings settings;
  module_catalog modules;
  actor_pool<job_store_actor> job_stores;
  /// The node's Redis bookkeeping; supervisors ask it whether a job's lease
  /// holder still has the job's id (see job_supervisor's claim).
  redis_ops_actor redis;
  std::shared_ptr<worker_metrics> metrics;
  stage_context stages;
};

using job_context_ptr = std::shared_ptr<const job_context>;
using stage_context_ptr = std::shared_ptr<const stage_context>;
using image_context_ptr = std::shared_ptr<const image_context>;

/// The part `member` of the context `outer` points to, sharing its lifetime.
template <class Outer, class Inner>
std::shared_ptr<const Inner> inner_context(const std::shared_ptr<const Outer>& outer,
                                           Inner Outer::*member) {
  return std::shared_ptr<const Inner>(outer, &((*outer).*member));
}

} // namespace quel
