#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

/// Helpers for tests that need a real PostgreSQL, found through
/// QUEL_TEST_DATABASE_URL (scripts/test.sh starts a throwaway one).
///
/// When the variable is missing: under CI=true (or CI=1) test_database_url()
/// FAILs the test; otherwise it WARNs and returns "", and the test skips
/// itself, most simply with QUEL_REQUIRE_TEST_DATABASE() as its first line.
/// Catch2 v2 has no SKIP, so a skipped test shows as passed with a warning.
///
/// test_database wipes the `public` schema of that database. Test processes
/// sharing one database are serialised by a session advisory lock that each
/// test_database holds for its lifetime, so `ctest -j` is safe; do not keep
/// two test_database objects alive at once in one process (the second one
/// would wait for the first).
namespace quel::test {

/// QUEL_TEST_DATABASE_URL; "" (after a WARN) when unset outside CI; FAILs in CI.
std::string test_database_url();

/// A clean database for one test: the production schema plus the worker's
/// migrations, with helpers to create and inspect rows. Every helper FAILs the
/// test (by throwing) on a database error.
class test_database {
public:
  /// Connects to test_database_url(), waits for the shared lock, drops and
  /// recreates the `public` schema, applies scripts/sql/production_schema.sql
  /// and apply_migrations(). Throws when no database is configured.
  test_database();
  ~test_database();
  test_database(const test_database&) = delete;
  test_database& operator=(const test_database&) = delete;

  /// The URL the database was opened with (for the adapters under test).
  const std::string& url() const { return url_; }

  /// The helper's own connection (autocommit through pqxx::nontransaction).
  pqxx::connection& conn();

  /// Inserts an organisation; returns its org_id.
  std::string create_org(int64_t credits, const std::string& name = "org");

  /// Inserts a production (status pending); returns its production_id.
  std::string create_production(const std::optional<std::string>& org_id,
                                const std::string& attach_ids_json = "[]");

  /// Inserts an attach row; returns its attach_id.
  int64_t create_attach(const std::optional<std::string>& file_path,
                        const std::optional<std::string>& directory,
                        const std::optional<std::string>& org_id = std::nullopt);

  /// Inserts a pending job; returns its job_id.
  std::string create_job(const std::optional<std::string>& production_id,
                         const std::optional<std::string>& org_id,
                         const std::string& job_type, const std::string& input_json);

  /// The job row as a JSON object (jsonb columns as JSON, uuids and
  /// timestamps as strings, NULL as null); null when there is no such row.
  nlohmann::json job(const std::string& job_id);

  /// The production row as a JSON object; null when there is no such row.
  nlohmann::json production(const std::string& production_id);

  /// The organisation's org_credit.
  int64_t org_credit(const std::string& org_id);

  /// The organisation's quel_credit_log rows, ordered by log_id.
  nlohmann::json credit_log(const std::string& org_id);

  /// The attach row as a JSON object; null when there is no such row.
  nlohmann::json attach(int64_t attach_id);

  /// Runs `sql` (e.g. "SELECT count(*) FROM quel_attach") and returns the
  /// first column of its first row as an integer.
  int64_t count(const std::string& sql);

  /// The worker's lease row of a job (quel_worker_job) as a JSON object, or
  /// null.
  nlohmann::json lease(const std::string& job_id);

  /// Runs any statement (test setup, e.g. expiring a lease by hand).
  void exec(const std::string& sql);

private:
  nlohmann::json row_json(const std::string& sql, const std::string& param);

  std::string url_;
  std::unique_ptr<pqxx::connection> conn_;
};

} // namespace quel::test

/// Skips the rest of the test (with a WARN) when no test database is
/// configured outside CI; FAILs it under CI.
#define QUEL_REQUIRE_TEST_DATABASE()                                            \
  do {                                                                          \
    if (::quel::test::test_database_url().empty())                             \
      return;                                                                   \
  } while (false)
