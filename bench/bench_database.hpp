#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

/// A database of its own for the benchmarks, beside the one the URL names,
/// so that the server's transaction counters (pg_stat_database) count the
/// benchmark's statements and nothing else.
namespace quel::bench {

/// One seeded 4-image job (2 stages x 2 images, 2 input images per stage),
/// the shape of the old design's "Database Query Sequence" example.
struct bench_job {
  std::string job_id;
  std::string production_id;
  std::string org_id;
  /// Input attach ids: stage s uses inputs[2 * s] and inputs[2 * s + 1].
  std::vector<int64_t> inputs;
};

/// The data set of one run; the same shape for every design.
struct bench_data_set {
  std::vector<std::string> orgs;
  std::vector<bench_job> jobs;
};

/// Owns the benchmark database `quel_bench` (dropped and recreated) with the
/// production schema and the worker's migrations. It keeps no connection to
/// that database open between calls, so that the server's counters of it
/// settle (see server_transactions).
class bench_database {
public:
  /// `admin_url` names any database of the server (e.g. QUEL_DATABASE_URL);
  /// drops and recreates `quel_bench` beside it and migrates it.
  explicit bench_database(const std::string& admin_url);
  ~bench_database();

  bench_database(const bench_database&) = delete;
  bench_database& operator=(const bench_database&) = delete;

  /// The URL of the benchmark database, for the clients under test.
  const std::string& url() const { return url_; }

  /// Empties every table and seeds `jobs` pending 4-image jobs spread over
  /// `orgs` organisations (each with ample credits), one production each;
  /// then ANALYZEs and CHECKPOINTs so every run starts from the same state.
  bench_data_set reset(int jobs, int orgs);

  /// Committed plus rolled-back transactions of the benchmark database as
  /// the server counts them (each autocommit statement is one). A backend
  /// flushes its counts when it exits (when idle, only every 10 s), so this
  /// first waits until no connection to the benchmark database is open:
  /// close every client first.
  int64_t server_transactions();

  /// Count of rows of `sql` ("SELECT count(*) ...") in the benchmark database.
  int64_t count(const std::string& sql);

private:
  std::string admin_url_;
  std::string url_;
  std::unique_ptr<pqxx::connection> admin_;
};

} // namespace quel::bench
