// Outages: a broken connection is dropped and replaced; pg_admin queries.
#include <algorithm>
#include <chrono>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_admin.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "tests/support/test_database.hpp"

using namespace std::chrono_literals;
using quel::claimed_job;
using job_id = quel::ids::job;
using quel::test::test_database;

namespace {

constexpr auto ttl = std::chrono::milliseconds(60'000);
constexpr const char* unreachable = "postgresql://postgres@127.0.0.1:1/postgres";

} // namespace

TEST_CASE("a terminated backend throws database_unavailable once, then reconnects",
          "[postgres][outage]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto job = db.create_job(std::nullopt, std::nullopt, "single_batch", R"({"prompt": "p"})");
  quel::pg_store store{db.url()};
  auto c = store.claim(job_id{job}, "node-a", ttl, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);
  int pid = store.backend_pid();
  REQUIRE(pid != 0);

  // The timeout makes the call wait until the backend has really gone.
  REQUIRE(db.count("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)::int") ==
          1);
  CHECK_THROWS_AS(store.renew(job_id{job}, c.epoch, ttl), quel::database_unavailable);
  CHECK(store.backend_pid() == 0);
  CHECK(store.renew(job_id{job}, c.epoch, ttl));
  CHECK(store.backend_pid() != pid);
}

TEST_CASE("an unreachable server throws database_unavailable from every call",
          "[postgres][outage]") {
  quel::pg_store store{unreachable};
  CHECK_THROWS_AS(store.claim(job_id{"0b6f1d4e-3c2a-4f7e-9a51-2d7c8e9f0a1b"}, "n", ttl, 5),
                  quel::database_unavailable);
  CHECK_THROWS_AS(store.attach_rows({1}), quel::database_unavailable);
  quel::pg_admin admin{unreachable};
  CHECK_FALSE(admin.ping());
  CHECK_THROWS_AS(admin.jobs_in_flight(), quel::database_unavailable);
}

TEST_CASE("pg_admin lists jobs in flight, modules and abandoned jobs", "[postgres][admin]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto with_module = db.create_job(std::nullopt, std::nullopt, "single_batch",
                                   R"({"prompt": "p", "module": "cinema"})");
  auto running = db.create_job(std::nullopt, std::nullopt, "single_batch", R"({"prompt": "p"})");
  auto abandoned = db.create_job(std::nullopt, std::nullopt, "single_batch", R"({"prompt": "p"})");
  auto done = db.create_job(std::nullopt, std::nullopt, "single_batch", R"({"prompt": "p"})");
  db.exec("UPDATE quel_production_jobs SET created_at = now() - interval '1 hour'");
  db.exec("UPDATE quel_production_jobs SET job_status = 'completed' WHERE job_id = '" + done +
          "'");
  quel::pg_store store{db.url()};
  auto r = store.claim(job_id{running}, "node-a", ttl, 5);
  REQUIRE(store.start(job_id{running}, r.epoch, 3));
  REQUIRE(store.claim(job_id{abandoned}, "node-b", 1ms, 5).result == claimed_job::outcome::claimed);
  db.exec("UPDATE quel_worker_job SET lease_expires_at = now() - interval '1 second'"
          " WHERE owner_node = 'node-b'");

  quel::pg_admin admin{db.url()};
  CHECK(admin.ping());
  CHECK(admin.module_of_job(with_module) == std::optional<std::string>("cinema"));
  CHECK_FALSE(admin.module_of_job(running).has_value());
  CHECK_FALSE(admin.module_of_job("not-a-uuid").has_value());
  CHECK_FALSE(admin.module_of_job("0b6f1d4e-3c2a-4f7e-9a51-2d7c8e9f0a1b").has_value());

  auto flight = admin.jobs_in_flight();
  REQUIRE(flight.size() == 1);
  CHECK(flight[0].job_id == running);
  CHECK(flight[0].total_images == 3);
  CHECK(flight[0].owner_node == std::optional<std::string>("node-a"));
  CHECK(flight[0].lease_live);
  REQUIRE(flight[0].lease_expires_at.has_value());
  CHECK(flight[0].lease_expires_at->back() == 'Z');

  auto old = admin.unfinished_jobs_older_than(60);
  std::sort(old.begin(), old.end());
  std::vector<std::string> expected{with_module, abandoned};
  std::sort(expected.begin(), expected.end());
  CHECK(old == expected);
  CHECK(admin.unfinished_jobs_older_than(7200).empty());
  CHECK(admin.unfinished_jobs_older_than(60, 1).size() == 1);
}
