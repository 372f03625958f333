#pragma once

#include <string>

#include "adapters/postgres/pg_store.hpp"
#include "bench/bench_database.hpp"

namespace quel::bench {

/// Which of this worker's statement flows a runner sends per job.
enum class worker_flow {
  stage_holds,     // per stage one hold of its images; per image one commit
  grouped,         // per stage one hold, and its images' commits in one call
  commit_only,     // no holds; per image one commit
};

/// This worker's database traffic for one job, through the real pg_store, in
/// the order the actors send it: claim, the job's attach rows in one query,
/// start, then per stage one hold of its images and its images' commits,
/// then finish. `grouped` commits a stage's images together, as a ledger
/// shard does when their commits reach it while it is busy.
class worker_job_runner {
public:
  /// Its own pg_store (one connection), as each detached store actor has.
  worker_job_runner(const std::string& url, worker_flow flow);

  /// Opens the connection before timing starts (one cheap statement).
  void connect();

  /// Runs the job and returns the round trips sent; throws std::runtime_error
  /// when an outcome is not the expected one (the data set is always valid).
  int run_job(const bench_job& job);

private:
  pg_store store_;
  worker_flow flow_;
};

} // namespace quel::bench
