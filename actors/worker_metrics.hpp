#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace quel {

/// Counters and readiness flags shared by the actors and the HTTP endpoint
/// (/metrics, /readyz). Plain atomics: CAF 0.17 has no telemetry.
struct worker_metrics {
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

  /// Prometheus text exposition of every counter.
  std::string to_prometheus() const;
};

} // namespace quel
