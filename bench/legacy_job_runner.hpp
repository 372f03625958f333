#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "bench/bench_database.hpp"

namespace quel::bench {

/// The old Go worker's database traffic for one job, replayed statement by
/// statement (original-system-notes.md, "Database Query Sequence"): every
/// statement is its own autocommit round trip, as database/sql's db.Exec and
/// db.QueryRow send them outside a transaction. For a 4-image job that is
/// 3 + 4 x 6 + 4 = 31 round trips, 21 of them writes (21 commits).
class legacy_job_runner {
public:
  /// Opens its own connection to `url` (one per thread, like the benchmark
  /// gives our pg_store).
  explicit legacy_job_runner(const std::string& url);

  /// Runs the whole sequence for `job` and returns the statements sent.
  int run_job(const bench_job& job);

private:
  std::unique_ptr<pqxx::connection> conn_;
};

} // namespace quel::bench
