#pragma once

#include <map>
#include <memory>
#include <string>

#include "bench/bench_database.hpp"
#include "bench/worker_process.hpp"

struct redisContext;

namespace quel::bench {

/// One configuration of the worker to measure.
struct scenario_settings {
  int jobs = 50;                              // 4-image jobs (2 stages x 2)
  std::map<std::string, std::string> env;     // QUEL_* on top of the defaults
};

/// What one `quel-worker run --drain` over a fresh data set achieved.
struct scenario_result {
  process_usage usage;
  int images = 0;
  /// Images over the span from the first job's started_at to the last
  /// job's completed_at (server clock): the steady processing rate, without
  /// process start-up and the drain's final idle check.
  double window_images_per_second = 0;
  /// Images over the process's whole life (spawn to exit).
  double wall_images_per_second = 0;
};

/// Seeds PostgreSQL (its own `quel_bench` database), Redis and a local
/// storage directory, runs the real worker binary until it drains, checks
/// that every job completed with every image stored, and measures it.
class worker_scenario {
public:
  /// `work_dir` holds the storage directory and the worker logs.
  worker_scenario(const std::string& database_url, const std::string& redis_url,
                  std::string worker_bin, std::string work_dir);
  ~worker_scenario();

  worker_scenario(const worker_scenario&) = delete;
  worker_scenario& operator=(const worker_scenario&) = delete;

  /// Runs the worker once; throws std::runtime_error when the worker fails,
  /// times out, or leaves a job unfinished or an image unstored.
  scenario_result run(const scenario_settings& s, const std::string& log_name);

private:
  void redis_command(const std::vector<std::string>& args);

  bench_database db_;
  std::string redis_url_;
  std::string worker_bin_;
  std::string work_dir_;
  std::string storage_dir_;
  redisContext* redis_ = nullptr;
};

} // namespace quel::bench
