#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/fault/fault_report.hpp"
#include "tests/fault/fault_worker_process.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/worker_harness.hpp"

namespace quel::test {

/// One seeded job of a scenario.
struct world_job {
  std::string id;
  std::string queue;
  std::optional<std::string> org_id;  // nullopt: nobody is charged
  int images = 0;
};

/// Where the enqueued jobs of a world stand, read from PostgreSQL directly
/// (never through a test proxy).
struct job_census {
  bool ok = false;     // PostgreSQL answered
  int waiting = 0;     // enqueued, not started by a worker ('pending')
  int processing = 0;  // started by a worker, not finished
  int finished = 0;    // completed or failed
  std::set<std::string> processing_ids;

  /// "waiting W, processing P, finished F" for messages.
  std::string describe() const;
};

/// Everything one fault scenario works on: a database (shared and reset, or a
/// private one), a Redis, a storage directory and a log directory, seeded with
/// organisations, input images and jobs; it starts workers and checks the
/// invariants from PostgreSQL, Redis and storage (never from logs).
class fault_world {
public:
  /// Each credit costs this much per image in every scenario (all modules).
  static constexpr int64_t cost_per_image = 2;

  /// Empty urls mean the shared QUEL_TEST_* servers (the database is reset
  /// under the test lock, Redis is flushed); otherwise those servers, fresh.
  fault_world(std::string name, std::string redis_url, std::string database_url);
  ~fault_world();
  fault_world(const fault_world&) = delete;
  fault_world& operator=(const fault_world&) = delete;

  const std::string& redis_url() const { return redis_url_; }
  const std::string& database_url() const { return database_url_; }
  const std::string& storage_dir() const { return storage_dir_; }
  const std::vector<world_job>& jobs() const { return jobs_; }

  /// `n` organisations with `credits` each (starting balances are kept).
  void create_orgs(int n, int64_t credits);

  /// `n` input images in storage with their attach rows.
  void create_inputs(int n);

  /// Adds job number `n` of a fixed mix (4 images each): single_batch with
  /// two inputs, or two stages where stage 1 uses stage 0's images; fashion
  /// or beauty queue; every tenth job has no organisation. Not enqueued.
  const world_job& add_job(int n);

  /// LPUSHes a job's id onto its queue, as a producer does.
  void enqueue(const world_job& job);

  /// Adds the next job of the mix and enqueues it (work added mid-run).
  const world_job& enqueue_new_job();

  /// Environment of a worker with node id `node` (QUEL_* from the host are
  /// dropped); `extra` wins.
  env_map worker_env(const std::string& node, const env_map& extra = {}) const;

  /// Starts `quel-worker ARGS` in the background, logging to a file of its own.
  std::unique_ptr<fault_process> start_worker(const std::string& node,
                                              const std::vector<std::string>& args,
                                              const env_map& extra = {});

  /// Jobs of this world not yet completed or failed; -1 if PostgreSQL does
  /// not answer.
  int unfinished_jobs() const;

  /// The enqueued jobs by status; ok is false if PostgreSQL does not answer.
  job_census census() const;

  /// Keeps `outstanding` enqueued jobs unfinished by enqueueing new ones, and
  /// polls until `ready` holds for the census or `timeout` passes. Returns
  /// the last census; `met` tells whether `ready` held. At most `job_limit`
  /// jobs are ever added, so a worker that makes no progress cannot make the
  /// world grow without bound.
  job_census keep_busy_until(int outstanding, int job_limit,
                             const std::function<bool(const job_census&)>& ready,
                             std::chrono::milliseconds timeout, bool& met);

  /// Polls until every job is finished or `timeout` passes; true when done.
  bool wait_all_finished(std::chrono::seconds timeout) const;

  /// Checks every invariant and returns the counts (scenario, kills, faults
  /// and seconds are left for the caller to fill in).
  scenario_result check(const std::string& scenario) const;

  /// Path for an extra log file of this scenario (proxies).
  std::string log_path(const std::string& name) const;

private:
  std::string name_;
  std::string redis_url_;
  std::string database_url_;
  std::unique_ptr<test_database> shared_db_;
  std::string dir_;
  std::string storage_dir_;
  std::vector<std::string> orgs_;
  std::map<std::string, int64_t> starting_credit_;
  std::vector<int64_t> inputs_;
  std::vector<world_job> jobs_;
  std::vector<std::string> enqueued_;
  int workers_started_ = 0;
};

} // namespace quel::test
