// Migrations: repeatable, safe to run concurrently, and reporting outages.
#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/postgres/job_store.hpp"
#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/pg_connection.hpp"
#include "common/embedded_files.hpp"
#include "tests/support/test_database.hpp"

using quel::test::test_database;

namespace {

std::vector<std::string> embedded_names() {
  std::vector<std::string> names;
  for (const auto& m : quel::embedded::migrations())
    names.emplace_back(m.name);
  return names;
}

const char* drop_worker_objects =
  "DROP TABLE IF EXISTS quel_worker_migrations, quel_worker_job, quel_worker_image,"
  " quel_worker_credit_hold";

} // namespace

TEST_CASE("migrations are embedded in file order", "[postgres][migrations]") {
  auto names = embedded_names();
  REQUIRE(names.size() >= 2);
  CHECK(std::is_sorted(names.begin(), names.end()));
}

TEST_CASE("migrations apply once, then again as a no-op", "[postgres][migrations]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;  // applied them once already
  auto names = embedded_names();
  CHECK(db.count("SELECT count(*) FROM quel_worker_migrations") ==
        static_cast<int64_t>(names.size()));
  CHECK(quel::apply_migrations(db.url()).empty());

  // Re-running the SQL itself over existing objects must succeed too (a
  // ledger lost by hand, or a migration re-applied after a partial restore).
  db.exec("DELETE FROM quel_worker_migrations");
  CHECK(quel::apply_migrations(db.url()) == names);
  CHECK(quel::apply_migrations(db.url()).empty());
  for (const char* table : {"quel_worker_job", "quel_worker_image", "quel_worker_credit_hold"})
    CHECK(db.count(std::string("SELECT count(*) FROM pg_tables WHERE tablename = '") + table +
                   "'") == 1);
  // No overload piles up: the current commit and finish, plus the forms
  // older workers call during a rolling upgrade (migration 006).
  CHECK(db.count("SELECT count(*) FROM pg_proc WHERE proname = 'quel_worker_commit_image'") ==
        2);
  CHECK(db.count("SELECT count(*) FROM pg_proc WHERE proname = 'quel_worker_finish'") == 2);
  CHECK(db.count("SELECT count(*) FROM pg_proc WHERE proname = 'quel_worker_commit_images'") ==
        1);
  // CREATE OR REPLACE resets a function's settings: 006 sets them again.
  CHECK(db.count("SELECT count(*) FROM pg_proc WHERE proname LIKE 'quel_worker_%'"
                 " AND proname IN ('quel_worker_commit_image', 'quel_worker_commit_images',"
                 "                 'quel_worker_finish', 'quel_worker_hold_images')"
                 " AND NOT coalesce(proconfig, '{}') @> '{enable_seqscan=off}'") == 0);
}

TEST_CASE("concurrent migrate runs apply each migration exactly once",
          "[postgres][migrations]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  db.exec(drop_worker_objects);

  std::mutex mutex;
  std::vector<std::string> applied;
  std::vector<std::string> errors;
  std::vector<std::thread> runs;
  for (int i = 0; i < 4; ++i) {
    runs.emplace_back([&] {
      try {
        auto names = quel::apply_migrations(db.url());
        std::lock_guard<std::mutex> lock(mutex);
        applied.insert(applied.end(), names.begin(), names.end());
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        errors.emplace_back(e.what());
      }
    });
  }
  for (auto& t : runs)
    t.join();
  CHECK(errors.empty());
  std::sort(applied.begin(), applied.end());
  CHECK(applied == embedded_names());
}

TEST_CASE("migrate against an unreachable server reports database_unavailable",
          "[postgres][migrations]") {
  // Port 1 on loopback refuses connections at once.
  CHECK_THROWS_AS(quel::apply_migrations("postgresql://postgres@127.0.0.1:1/postgres"),
                  quel::database_unavailable);
}

TEST_CASE("connect_timeout is added to URLs that lack one", "[postgres][url]") {
  using quel::pg_connection;
  CHECK(pg_connection::with_connect_timeout("postgresql://u@h:5432/db") ==
        "postgresql://u@h:5432/db?connect_timeout=5");
  CHECK(pg_connection::with_connect_timeout("postgres://u@h/db?sslmode=require") ==
        "postgres://u@h/db?sslmode=require&connect_timeout=5");
  CHECK(pg_connection::with_connect_timeout("host=h dbname=db") ==
        "host=h dbname=db connect_timeout=5");
  CHECK(pg_connection::with_connect_timeout("postgresql://h/db?connect_timeout=2") ==
        "postgresql://h/db?connect_timeout=2");
  CHECK(pg_connection::with_connect_timeout("host=h connect_timeout=9") ==
        "host=h connect_timeout=9");
}
