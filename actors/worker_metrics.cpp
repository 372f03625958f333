#include "actors/worker_metrics.hpp"

#include "common/process_stats.hpp"

// A build may pass QUEL_VERSION / QUEL_GIT_COMMIT (e.g. from CMake);
// otherwise these constants stand.
#ifndef QUEL_VERSION
#define QUEL_VERSION "0.1.0"
#endif
#ifndef QUEL_GIT_COMMIT
#define QUEL_GIT_COMMIT "unknown"
#endif

namespace quel {

const char* const build_version = QUEL_VERSION;
const char* const build_commit = QUEL_GIT_COMMIT;

namespace {

using clock_type = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           clock_type::now().time_since_epoch())
    .count();
}

/// One sample without labels, for the callback families.
metrics::callback::sampler one(std::function<double()> read) {
  return [read = std::move(read)] {
    return std::vector<std::pair<metrics::label_values, double>>{{{}, read()}};
  };
}

/// Storage calls are local disk or HTTP: finer buckets at the low end.
std::vector<double> storage_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

} // namespace

worker_metrics::worker_metrics()
  : jobs(registry.add_counter("quel_jobs_total",
                              "Jobs ended on this node, by module and outcome (completed, "
                              "failed, dead_lettered, requeued, dropped).",
                              {"module", "outcome"})),
    images(registry.add_counter("quel_images_total",
                                "Images ended on this node, by module and outcome (made, "
                                "failed).",
                                {"module", "outcome"})),
    failures(registry.add_counter("quel_failures_total",
                                  "Jobs and images given up on, by scope (job, image) and "
                                  "reason class.",
                                  {"scope", "reason"})),
    retries(registry.add_counter("quel_retries_total",
                                 "Retries scheduled, by what is retried (image, stage, claim, "
                                 "lease_renewal) and reason class.",
                                 {"what", "reason"})),
    credits_charged(registry.add_counter("quel_credits_charged_total",
                                         "Credits charged for images committed here, by "
                                         "module.",
                                         {"module"})),
    job_duration(registry.add_histogram("quel_job_duration_seconds",
                                        "Time from taking a job's id to the job's end, for "
                                        "jobs that completed or failed here.",
                                        {"module", "outcome"}, metrics::duration_buckets())),
    image_duration(registry.add_histogram("quel_image_duration_seconds",
                                          "Time from an image's first attempt (slot wait included) to its end "
                                          "(made or failed), retries included.",
                                          {"module", "outcome"},
                                          metrics::duration_buckets())),
    model_call_duration(registry.add_histogram("quel_model_call_duration_seconds",
                                               "Model calls (any generator backend), from "
                                               "the request to the reply; a rate-limit wait "
                                               "is not included.",
                                               {"outcome"}, metrics::duration_buckets())),
    storage_call_duration(registry.add_histogram("quel_storage_call_duration_seconds",
                                                 "Object storage calls, by operation (get, "
                                                 "put, exists) and outcome.",
                                                 {"operation", "outcome"}, storage_buckets())),
    queue_depth(registry.add_gauge("quel_queue_depth",
                                   "Ids waiting in each queue of the modules file (LLEN), sampled; the same on "
                                   "every node.",
                                   {"queue"})),
    queue_oldest_age(registry.add_gauge("quel_queue_oldest_age_seconds",
                                        "Age (now - created_at of its job row) of the id "
                                        "taken next from each queue; 0 when empty. Sampled.",
                                        {"queue"})),
    credits_held(registry.add_gauge("quel_credits_held",
                                    "Credits reserved by this node's holds of images in "
                                    "progress.")),
    rate_limit_waits(registry.add_counter("quel_model_rate_limit_waits_total",
                                          "Model calls that waited for the fleet-wide rate "
                                          "limit (generator.max_requests_per_minute).")),
    rate_limit_wait_seconds(registry.add_counter("quel_model_rate_limit_wait_seconds_total",
                                                 "Seconds model calls waited for the "
                                                 "fleet-wide rate limit.")),
    dead_letters(registry.add_gauge("quel_dead_letters",
                                    "Entries in the dead-letter list (jobs:dead), fleet-wide; "
                                    "sampled.")) {
  registry.add_callback("quel_ready",
                        "1 when /readyz answers 200 (Redis and PostgreSQL reachable, not "
                        "stopping).",
                        {}, "gauge", one([this] {
                          return redis_up && database_up && !stopping ? 1.0 : 0.0;
                        }));
  registry.add_callback("quel_heartbeat_age_seconds",
                        "Seconds since the actor scheduler's last heartbeat.", {}, "gauge",
                        one([this] {
                          auto beat = heartbeat_ns.load();
                          return beat == 0 ? 0.0 : (now_ns() - beat) / 1e9;
                        }));
}

std::optional<double> worker_metrics::stalled_for() const {
  auto beat = heartbeat_ns.load();
  if (beat == 0)
    return std::nullopt;
  auto age = std::chrono::nanoseconds(now_ns() - beat);
  if (age <= health_stall_timeout)
    return std::nullopt;
  return std::chrono::duration<double>(age).count();
}

namespace {

void add(std::string& out, const char* name, const char* type, const char* help,
         int64_t value) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

void add_process(std::string& out) {
  auto p = read_process_stats();
  if (!p)
    return;
  auto put = [&out](const char* name, const char* type, const char* help, double v) {
    out += std::string{"# HELP "} + name + ' ' + help + "\n# TYPE " + name + ' ' + type
           + '\n' + name + ' ' + metrics::format_value(v) + '\n';
  };
  put("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
      p->resident_memory_bytes);
  put("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
      p->virtual_memory_bytes);
  put("process_cpu_seconds_total", "counter", "User and system CPU time in seconds.",
      p->cpu_seconds_total);
  put("process_open_fds", "gauge", "Open file descriptors.", p->open_fds);
  put("process_max_fds", "gauge", "Maximum number of open file descriptors.", p->max_fds);
  put("process_threads", "gauge", "OS threads of the process.", p->threads);
  put("process_start_time_seconds", "gauge",
      "Start time of the process since the Unix epoch in seconds.", p->start_time_seconds);
}

} // namespace

std::string worker_metrics::to_prometheus() const {
  std::string out;
  add(out, "quel_jobs_taken_total", "counter", "Job ids taken off queues.", jobs_taken);
  add(out, "quel_jobs_completed_total", "counter", "Jobs completed.", jobs_completed);
  add(out, "quel_jobs_failed_total", "counter", "Jobs failed.", jobs_failed);
  add(out, "quel_jobs_dead_lettered_total", "counter", "Ids dead-lettered.",
      jobs_dead_lettered);
  add(out, "quel_jobs_in_flight", "gauge", "Jobs being processed.", jobs_in_flight);
  add(out, "quel_images_made_total", "counter", "Images made and charged.", images_made);
  add(out, "quel_images_failed_total", "counter", "Images given up on.", images_failed);
  add(out, "quel_images_in_flight", "gauge", "Images being made.", images_in_flight);
  add(out, "quel_image_restarts_total", "counter", "Image actor restarts.",
      image_restarts);
  add(out, "quel_stage_restarts_total", "counter", "Stage actor restarts.",
      stage_restarts);
  add(out, "quel_redis_up", "gauge", "Redis reachable.", redis_up ? 1 : 0);
  add(out, "quel_database_up", "gauge", "PostgreSQL reachable.", database_up ? 1 : 0);
  out += registry.render();
  add_process(out);
  out += "# HELP quel_build_info The worker's version and git commit.\n"
         "# TYPE quel_build_info gauge\n"
         "quel_build_info{version=\"";
  out += build_version;
  out += "\",commit=\"";
  out += build_commit;
  out += "\"} 1\n";
  return out;
}

} // namespace quel
