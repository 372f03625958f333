#include "actors/worker_metrics.hpp"

namespace quel {

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
  return out;
}

} // namespace quel
