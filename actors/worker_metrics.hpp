#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/metrics_registry.hpp"

namespace quel {

/// Counters and readiness flags shared by the actors and the HTTP endpoint
/// (/metrics, /healthz, /readyz). The plain atomics are the first metrics
/// (their names are kept); the labelled families of `registry` came with
/// issue 11. docs/OPERATIONS.md ("Monitoring") lists every metric.
struct worker_metrics {
  worker_metrics();
  worker_metrics(const worker_metrics&) = delete;
  worker_metrics& operator=(const worker_metrics&) = delete;

  std::atomic<int64_t> jobs_taken{0};
  std::atomic<int64_t> jobs_completed{0};
  std::atomic<int64_t> jobs_failed{0};
  std::atomic<int64_t> jobs_dead_lettered{0};
  std::atomic<int64_t> jobs_in_flight{0};
  std::atomic<int64_t> images_made{0};
  std::atomic<int64_t> images_failed{0};
  std::atomic<int64_t> images_in_flight{0};
  std::atomic<int64_t> image_restarts{0};
  std::atomic<int64_t> stage_restarts{0};
  std::atomic<bool> redis_up{false};
  std::atomic<bool> database_up{false};
  std::atomic<bool> stopping{false};

  /// Steady-clock time (ns since its epoch) of the heartbeat actor's last
  /// beat on the shared scheduler; 0 while no heartbeat runs (before the
  /// actor system starts, after it stops).
  std::atomic<int64_t> heartbeat_ns{0};
  /// /healthz fails once the last beat is older than this
  /// (worker.health_stall_timeout). Set before the endpoint starts.
  std::chrono::milliseconds health_stall_timeout{10000};

  /// Seconds since the last heartbeat when that is longer than
  /// health_stall_timeout (the scheduler is wedged); nullopt otherwise.
  std::optional<double> stalled_for() const;

  metrics::registry registry;
  // Label values come from bounded sets: module and queue names of the
  // modules file, the outcome and reason classes of actors/metric_labels.hpp.
  metrics::counter& jobs;              // {module, outcome}
  metrics::counter& images;            // {module, outcome}
  metrics::counter& failures;          // {scope, reason}
  metrics::counter& retries;           // {what, reason}
  metrics::counter& credits_charged;   // {module}
  metrics::histogram& job_duration;    // {module, outcome}
  metrics::histogram& image_duration;  // {module, outcome}
  metrics::histogram& model_call_duration;    // {outcome}
  metrics::histogram& storage_call_duration;  // {operation, outcome}
  metrics::gauge& queue_depth;         // {queue}
  metrics::gauge& queue_oldest_age;    // {queue}
  metrics::gauge& credits_held;
  metrics::counter& rate_limit_waits;
  metrics::counter& rate_limit_wait_seconds;
  metrics::gauge& dead_letters;

  /// Prometheus text exposition of every metric.
  std::string to_prometheus() const;
};

/// The version quel_build_info reports.
extern const char* const build_version;
/// The git commit quel_build_info reports ("unknown" when not known).
extern const char* const build_commit;

} // namespace quel
