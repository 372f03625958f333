// Claim outcomes, lease renewal and release, and quarantine of crash loops.
#include <chrono>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_store.hpp"
#include "tests/support/sample_commit.hpp"
#include "tests/support/test_database.hpp"

using namespace std::chrono_literals;
using quel::claimed_job;
using job_id = quel::ids::job;
using quel::test::test_database;

namespace {

constexpr const char* input = R"({"prompt": "a red hat", "quantity": 2, "module": "eats"})";
constexpr auto ttl = std::chrono::milliseconds(60'000);

} // namespace

TEST_CASE("claim of an unknown job reports missing", "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  quel::pg_store store{db.url()};
  auto c = store.claim(job_id{"0b6f1d4e-3c2a-4f7e-9a51-2d7c8e9f0a1b"}, "node-a", ttl, 5);
  CHECK(c.result == claimed_job::outcome::missing);
  CHECK(db.count("SELECT count(*) FROM quel_worker_job") == 0);
}

TEST_CASE("claim returns the job's fields with epoch 1 and attempt 1", "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(10);
  auto prod = db.create_production(org);
  auto job = db.create_job(prod, org, "single_batch", input);
  quel::pg_store store{db.url()};

  auto c = store.claim(job_id{job}, "node-a", ttl, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);
  CHECK(c.job_id.str() == job);
  CHECK(c.job_type == "single_batch");
  CHECK(nlohmann::json::parse(c.input_json) == nlohmann::json::parse(input));
  CHECK(c.org_id == quel::ids::org{org});
  CHECK(c.production_id == prod);
  CHECK(c.status == "pending");
  CHECK(c.epoch == 1);
  CHECK(c.attempts == 1);
  auto lease = db.lease(job);
  CHECK(lease["owner_node"] == "node-a");
  CHECK(db.count("SELECT count(*) FROM quel_worker_job WHERE lease_expires_at > now() + "
                 "interval '50 seconds'") == 1);
}

TEST_CASE("claim of a job without org or production gives empty optionals",
          "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto job = db.create_job(std::nullopt, std::nullopt, "single_batch", input);
  quel::pg_store store{db.url()};
  auto c = store.claim(job_id{job}, "node-a", ttl, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);
  CHECK_FALSE(c.org_id.has_value());
  CHECK_FALSE(c.production_id.has_value());
}

TEST_CASE("claim of a completed or failed job reports finished and takes no lease",
          "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto status = GENERATE(std::string("completed"), std::string("failed"));
  auto job = db.create_job(std::nullopt, std::nullopt, "single_batch", input);
  db.exec("UPDATE quel_production_jobs SET job_status = '" + status + "'");
  quel::pg_store store{db.url()};
  auto c = store.claim(job_id{job}, "node-a", ttl, 5);
  CHECK(c.result == claimed_job::outcome::finished);
  CHECK(c.status == status);
  CHECK(db.lease(job).is_null());
}

TEST_CASE("a live lease of another node is respected, and the same node takes its job back",
          "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto job = db.create_job(std::nullopt, std::nullopt, "single_batch", input);
  quel::pg_store a{db.url()};
  quel::pg_store b{db.url()};

  REQUIRE(a.claim(job_id{job}, "node-a", ttl, 5).result == claimed_job::outcome::claimed);
  auto other = b.claim(job_id{job}, "node-b", ttl, 5);
  CHECK(other.result == claimed_job::outcome::leased_elsewhere);
  // It names the holder and the time its lease has left, so the caller can
  // tell a live holder from a crashed one and wait for the lease to expire.
  CHECK(other.owner_node == "node-a");
  CHECK(other.lease_left > 0ms);
  CHECK(other.lease_left <= ttl);
  CHECK(db.lease(job)["owner_node"] == "node-a");
  CHECK(db.lease(job)["epoch"] == 1);

  // A restarted process with a stable node id does not wait for its own lease.
  auto again = a.claim(job_id{job}, "node-a", ttl, 5);
  REQUIRE(again.result == claimed_job::outcome::claimed);
  CHECK(again.epoch == 2);
  CHECK(again.attempts == 2);
}

TEST_CASE("an expired lease is taken over with the next epoch", "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto job = db.create_job(std::nullopt, std::nullopt, "single_batch", input);
  quel::pg_store a{db.url()};
  quel::pg_store b{db.url()};

  auto first = a.claim(job_id{job}, "node-a", 1ms, 5);
  REQUIRE(first.result == claimed_job::outcome::claimed);
  db.exec("UPDATE quel_worker_job SET lease_expires_at = now() - interval '1 second'");

  auto taken = b.claim(job_id{job}, "node-b", ttl, 5);
  REQUIRE(taken.result == claimed_job::outcome::claimed);
  CHECK(taken.epoch == first.epoch + 1);
  CHECK(taken.attempts == 2);
  CHECK(db.lease(job)["owner_node"] == "node-b");
  // The old owner is now fenced out and also sees the new live lease.
  CHECK_FALSE(a.renew(job_id{job}, first.epoch, ttl));
  CHECK(a.claim(job_id{job}, "node-a", ttl, 5).result == claimed_job::outcome::leased_elsewhere);
}

TEST_CASE("renew extends the lease only for the current epoch", "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto job = db.create_job(std::nullopt, std::nullopt, "single_batch", input);
  quel::pg_store store{db.url()};
  auto c = store.claim(job_id{job}, "node-a", 1000ms, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);

  CHECK(store.renew(job_id{job}, c.epoch, 120'000ms));
  CHECK(db.count("SELECT count(*) FROM quel_worker_job WHERE lease_expires_at > now() + "
                 "interval '100 seconds'") == 1);
  CHECK_FALSE(store.renew(job_id{job}, c.epoch + 1, ttl));
  CHECK_FALSE(store.renew(job_id{job}, c.epoch - 1, ttl));
}

TEST_CASE("release hands the job over at once without counting an attempt",
          "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto job = db.create_job(std::nullopt, std::nullopt, "single_batch", input);
  quel::pg_store a{db.url()};
  quel::pg_store b{db.url()};
  auto c = a.claim(job_id{job}, "node-a", ttl, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);

  a.release(job_id{job}, c.epoch + 7);  // a stale epoch changes nothing
  CHECK(b.claim(job_id{job}, "node-b", ttl, 5).result == claimed_job::outcome::leased_elsewhere);

  a.release(job_id{job}, c.epoch);
  CHECK(db.lease(job)["attempts"] == 0);
  auto taken = b.claim(job_id{job}, "node-b", ttl, 5);
  REQUIRE(taken.result == claimed_job::outcome::claimed);
  CHECK(taken.attempts == 1);
  CHECK(taken.epoch == c.epoch + 1);
}

TEST_CASE("a job claimed max_attempts times is quarantined by the next claim",
          "[postgres][claim]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(10);
  auto prod = db.create_production(org, "[7]");
  auto job = db.create_job(prod, org, "single_batch", input);
  quel::pg_store store{db.url()};

  // Three crashed runs; the first made one image of four before dying.
  auto first = store.claim(job_id{job}, "node-a", ttl, 3);
  REQUIRE(first.result == claimed_job::outcome::claimed);
  REQUIRE(store.start(job_id{job}, first.epoch, 4));
  auto ic = quel::test::sample_commit(first.image(0, 0, 1), 100);
  auto made = store.commit_image(ic);
  REQUIRE(made.result == quel::commit_result::outcome::committed);
  REQUIRE(store.claim(job_id{job}, "node-a", ttl, 3).result == claimed_job::outcome::claimed);
  auto third = store.claim(job_id{job}, "node-a", ttl, 3);
  REQUIRE(third.result == claimed_job::outcome::claimed);
  REQUIRE(third.attempts == 3);

  auto q = store.claim(job_id{job}, "node-b", 1ms, 3);
  // node-b waits for the live lease of node-a like anyone else...
  CHECK(q.result == claimed_job::outcome::leased_elsewhere);
  db.exec("UPDATE quel_worker_job SET lease_expires_at = now() - interval '1 second'");
  q = store.claim(job_id{job}, "node-b", ttl, 3);
  CHECK(q.result == claimed_job::outcome::quarantined);

  auto row = db.job(job);
  CHECK(row["job_status"] == "failed");
  CHECK(row["error_message"] ==
        "quarantined after 3 attempts: the worker crashed repeatedly while processing "
        "this job");
  CHECK_FALSE(row["completed_at"].is_null());
  CHECK(row["completed_images"] == 1);
  CHECK(row["failed_images"] == 3);
  auto p = db.production(prod);
  CHECK(p["production_status"] == "failed");
  CHECK(p["attach_ids"] == nlohmann::json::array({7, made.attach_id}));
  // The crash-looping worker is fenced and the job is now finished for all.
  CHECK_FALSE(store.renew(job_id{job}, third.epoch, ttl));
  CHECK(store.claim(job_id{job}, "node-a", ttl, 3).result == claimed_job::outcome::finished);
  CHECK(db.org_credit(org) == 9);
}
