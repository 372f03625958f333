#pragma once

#include <string>

#include "adapters/postgres/pg_store.hpp"
#include "bench/bench_database.hpp"

namespace quel::bench {

/// This worker's database traffic for one job, through the real pg_store, in
/// the order the actors send it: claim, the job's attach rows in one query,
/// start, then per image hold + commit_image, then finish.
class worker_job_runner {
public:
  /// Its own pg_store (one connection), as each detached store actor has.
  /// `with_holds` false leaves out the per-image hold (commit only).
  worker_job_runner(const std::string& url, bool with_holds);

  /// Opens the connection before timing starts (one cheap statement).
  void connect();

  /// Runs the job and returns the round trips sent; throws std::runtime_error
  /// when an outcome is not the expected one (the data set is always valid).
  int run_job(const bench_job& job);

private:
  pg_store store_;
  bool with_holds_;
};

} // namespace quel::bench
