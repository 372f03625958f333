// The mesh takeover's PostgreSQL half (quel_worker_take_over_node): the dead
// node's jobs are fenced at once, the next ordinary claim succeeds, and the
// dead node's late writes are refused.
#include <chrono>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_connection.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "adapters/postgres/pg_takeover.hpp"
#include "tests/support/test_database.hpp"

using namespace std::chrono_literals;
using quel::claimed_job;
using job_id = quel::ids::job;
using quel::test::test_database;

namespace {

constexpr const char* input = R"({"prompt": "a red hat", "quantity": 2, "module": "eats"})";
constexpr auto ttl = std::chrono::milliseconds(60'000);

} // namespace

TEST_CASE("a takeover fences the dead node's live jobs so another node claims them at once",
          "[postgres][takeover]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto job = db.create_job(std::nullopt, std::nullopt, "single_batch", input);
  auto other = db.create_job(std::nullopt, std::nullopt, "single_batch", input);
  quel::pg_store dead{db.url()};
  quel::pg_store survivor{db.url()};
  auto first = dead.claim(job_id{job}, "node-dead", ttl, 5);
  REQUIRE(first.result == claimed_job::outcome::claimed);
  REQUIRE(survivor.claim(job_id{other}, "node-live", ttl, 5).result
          == claimed_job::outcome::claimed);
  // Without a takeover the live lease is respected (the lease path).
  REQUIRE(survivor.claim(job_id{job}, "node-live", ttl, 5).result
          == claimed_job::outcome::leased_elsewhere);

  quel::pg_connection conn{db.url()};
  CHECK(quel::take_over_node_jobs(conn, "node-dead") == 1);
  // The dead node is fenced before anyone claims: renew is refused.
  CHECK_FALSE(dead.renew(job_id{job}, first.epoch, ttl));

  auto taken = survivor.claim(job_id{job}, "node-live", ttl, 5);
  REQUIRE(taken.result == claimed_job::outcome::claimed);
  CHECK(taken.epoch > first.epoch);
  CHECK(db.lease(job)["owner_node"] == "node-live");
  // Jobs of other nodes are untouched, and a second takeover finds nothing.
  CHECK(db.lease(other)["epoch"] == 1);
  CHECK(quel::take_over_node_jobs(conn, "node-dead") == 0);
  CHECK_FALSE(dead.renew(job_id{job}, first.epoch, ttl));
}
