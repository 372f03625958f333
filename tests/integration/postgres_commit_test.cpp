// commit_image exactly once, fencing of stale epochs, start/finish/fail_invalid.
#include <chrono>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_store.hpp"
#include "tests/support/sample_commit.hpp"
#include "tests/support/test_database.hpp"

using namespace std::chrono_literals;
using quel::claimed_job;
using job_id = quel::ids::job;
using quel::commit_result;
using quel::hold_outcome;
using quel::test::test_database;

namespace {

constexpr auto ttl = std::chrono::milliseconds(60'000);

quel::image_identity identity(const job_id& job, int64_t epoch, int stage, int index,
                              const std::optional<std::string>& org, int64_t cost) {
  return {job, epoch, stage, index, quel::ids::optional_org(org), cost};
}

// Sizes differ per image so that a check can tell the attach rows apart.
quel::image_commit image(const job_id& job, int64_t epoch, int stage, int index,
                         const std::optional<std::string>& org, int64_t cost) {
  return quel::test::sample_commit(identity(job, epoch, stage, index, org, cost), 1000 + index);
}

/// A pending job claimed by `store` on node-a.
claimed_job claimed(test_database& db, quel::pg_store& store,
                    const std::optional<std::string>& prod,
                    const std::optional<std::string>& org) {
  auto job = db.create_job(prod, org, "single_batch", R"({"prompt": "p", "quantity": 4})");
  auto c = store.claim(job_id{job}, "node-a", ttl, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);
  return c;
}

} // namespace

TEST_CASE("commit_image writes attach, charge, log and progress exactly once",
          "[postgres][commit]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(10);
  quel::pg_store store{db.url()};
  auto c = claimed(db, store, std::nullopt, org);
  REQUIRE(store.start(c.job_id, c.epoch, 4));

  auto first = store.commit_image(image(c.job_id, c.epoch, 0, 1, org, 3));
  REQUIRE(first.result == commit_result::outcome::committed);
  CHECK(first.completed_images == 1);
  CHECK(first.total_images == 4);
  CHECK(first.balance_after == 7);

  auto second = store.commit_image(image(c.job_id, c.epoch, 0, 1, org, 3));
  CHECK(second.result == commit_result::outcome::already_committed);
  CHECK(second.attach_id == first.attach_id);
  CHECK(second.completed_images == 1);

  CHECK(db.count("SELECT count(*) FROM quel_attach") == 1);
  CHECK(db.org_credit(org) == 7);
  auto log = db.credit_log(org);
  REQUIRE(log.size() == 1);
  CHECK(log[0]["amount"] == -3);
  CHECK(log[0]["balance_after"] == 7);
  CHECK(log[0]["reason"] == "image_generation");
  CHECK(log[0]["job_id"] == c.job_id.str());
  CHECK(log[0]["attach_id"] == first.attach_id);

  auto a = db.attach(first.attach_id);
  CHECK(a["attach_file_path"] == "generated/" + c.job_id.str() + "/s0-i1.webp");
  CHECK(a["attach_file_name"] == "s0-i1.webp");
  CHECK(a["attach_original_name"] == "s0-i1.webp");
  CHECK(a["attach_file_type"] == "image/webp");
  CHECK(a["attach_file_size"] == 1001);
  CHECK(a["org_id"] == org);

  auto j = db.job(c.job_id.str());
  CHECK(j["completed_images"] == 1);
  CHECK(j["generated_attach_ids"] == nlohmann::json::array({first.attach_id}));
}

TEST_CASE("a job without org charges nobody", "[postgres][commit][credits]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto bystander = db.create_org(5);
  quel::pg_store store{db.url()};
  auto c = claimed(db, store, std::nullopt, std::nullopt);
  CHECK(store.hold(identity(c.job_id, c.epoch, 0, 0, std::nullopt, 1)) == hold_outcome::held);
  auto r = store.commit_image(image(c.job_id, c.epoch, 0, 0, std::nullopt, 1));
  REQUIRE(r.result == commit_result::outcome::committed);
  CHECK_FALSE(r.balance_after.has_value());
  CHECK(db.attach(r.attach_id)["org_id"].is_null());
  CHECK(db.count("SELECT count(*) FROM quel_credit_log") == 0);
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold") == 0);
  CHECK(db.org_credit(bystander) == 5);
}

TEST_CASE("an old epoch can neither commit, start, finish nor hold after a re-claim",
          "[postgres][fencing]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(10);
  auto prod = db.create_production(org);
  quel::pg_store old_owner{db.url()};
  quel::pg_store new_owner{db.url()};
  auto stale = claimed(db, old_owner, prod, org);
  db.exec("UPDATE quel_worker_job SET lease_expires_at = now() - interval '1 second'");
  auto fresh = new_owner.claim(stale.job_id, "node-b", ttl, 5);
  REQUIRE(fresh.result == claimed_job::outcome::claimed);
  const auto& job = stale.job_id;

  CHECK_FALSE(old_owner.start(job, stale.epoch, 4).has_value());
  CHECK(old_owner.hold(identity(job, stale.epoch, 0, 0, org, 1)) == hold_outcome::lease_lost);
  auto r = old_owner.commit_image(image(job, stale.epoch, 0, 0, org, 1));
  CHECK(r.result == commit_result::outcome::lease_lost);
  quel::job_finish f;
  f.job_id = job;
  f.epoch = stale.epoch;
  f.completed = true;
  CHECK_FALSE(old_owner.finish(f));
  CHECK_FALSE(old_owner.fail_invalid(job, stale.epoch, "bad"));
  CHECK_FALSE(old_owner.renew(job, stale.epoch, ttl));

  CHECK(db.count("SELECT count(*) FROM quel_attach") == 0);
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold") == 0);
  CHECK(db.org_credit(org) == 10);
  CHECK(db.job(job.str())["job_status"] == "pending");
  CHECK(db.production(prod)["production_status"] == "pending");

  // The new owner's writes go through.
  REQUIRE(new_owner.start(job, fresh.epoch, 4).has_value());
  CHECK(new_owner.commit_image(image(job, fresh.epoch, 0, 0, org, 1)).result ==
        commit_result::outcome::committed);
}

TEST_CASE("start marks job and production processing and returns committed images",
          "[postgres][lifecycle]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(10);
  auto prod = db.create_production(org);
  quel::pg_store store{db.url()};
  auto c = claimed(db, store, prod, org);

  auto none = store.start(c.job_id, c.epoch, 4);
  REQUIRE(none.has_value());
  CHECK(none->empty());
  auto j = db.job(c.job_id.str());
  CHECK(j["job_status"] == "processing");
  CHECK(j["total_images"] == 4);
  REQUIRE_FALSE(j["started_at"].is_null());
  CHECK(db.production(prod)["production_status"] == "processing");
  auto started_at = j["started_at"];

  auto a = store.commit_image(image(c.job_id, c.epoch, 1, 0, org, 1));
  auto b = store.commit_image(image(c.job_id, c.epoch, 0, 1, org, 1));
  REQUIRE(a.result == commit_result::outcome::committed);
  REQUIRE(b.result == commit_result::outcome::committed);

  // A crash later: the job is resumed by a new claim.
  auto again = store.claim(c.job_id, "node-a", ttl, 5);
  REQUIRE(again.result == claimed_job::outcome::claimed);
  CHECK(again.status == "processing");
  auto done = store.start(c.job_id, again.epoch, 4);
  REQUIRE(done.has_value());
  REQUIRE(done->size() == 2);
  CHECK((*done)[0].stage_index == 0);
  CHECK((*done)[0].image_index == 1);
  CHECK((*done)[0].attach_id == b.attach_id);
  CHECK((*done)[0].object_key == "generated/" + c.job_id.str() + "/s0-i1.webp");
  CHECK((*done)[1].stage_index == 1);
  CHECK((*done)[1].attach_id == a.attach_id);
  CHECK(db.job(c.job_id.str())["started_at"] == started_at);
  CHECK(db.job(c.job_id.str())["completed_images"] == 2);
}

TEST_CASE("finish appends the job's ids after the production's, once each",
          "[postgres][lifecycle]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(10);
  auto prod = db.create_production(org, "[900, 901]");
  quel::pg_store store{db.url()};
  auto c = claimed(db, store, prod, org);
  REQUIRE(store.start(c.job_id, c.epoch, 3));
  auto x = store.commit_image(image(c.job_id, c.epoch, 0, 0, org, 1)).attach_id;
  auto y = store.commit_image(image(c.job_id, c.epoch, 0, 1, org, 1)).attach_id;
  auto z = store.commit_image(image(c.job_id, c.epoch, 0, 2, org, 1)).attach_id;
  REQUIRE(store.hold(identity(c.job_id, c.epoch, 1, 0, org, 1)) == hold_outcome::held);

  quel::job_finish f;
  f.job_id = c.job_id;
  f.epoch = c.epoch;
  f.completed = true;
  f.error_message = "ignored on success";
  f.ordered_attach_ids = {x, 901, y, x};  // z left out: still appended
  REQUIRE(store.finish(f));

  auto p = db.production(prod);
  CHECK(p["attach_ids"] == nlohmann::json::array({900, 901, x, y, z}));
  CHECK(p["production_status"] == "completed");
  auto j = db.job(c.job_id.str());
  CHECK(j["job_status"] == "completed");
  CHECK(j["error_message"].is_null());
  CHECK_FALSE(j["completed_at"].is_null());
  CHECK(j["failed_images"] == 0);
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold") == 0);
  CHECK(db.count("SELECT count(*) FROM quel_worker_job WHERE lease_expires_at > now()") == 0);
  CHECK(store.claim(c.job_id, "node-b", ttl, 5).result == claimed_job::outcome::finished);
}

TEST_CASE("finish of a failed job counts every image not made as failed",
          "[postgres][lifecycle]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto prod = db.create_production(std::nullopt);
  quel::pg_store store{db.url()};
  auto c = claimed(db, store, prod, std::nullopt);
  REQUIRE(store.start(c.job_id, c.epoch, 4));
  auto x = store.commit_image(image(c.job_id, c.epoch, 0, 0, std::nullopt, 0)).attach_id;

  quel::job_finish f;
  f.job_id = c.job_id;
  f.epoch = c.epoch;
  f.completed = false;
  f.error_message = "3 of 4 images failed: stage 0 image 1: IMAGE_SAFETY";
  f.ordered_attach_ids = {x};
  REQUIRE(store.finish(f));
  auto j = db.job(c.job_id.str());
  CHECK(j["job_status"] == "failed");
  CHECK(j["error_message"] == *f.error_message);
  CHECK(j["completed_images"] == 1);
  CHECK(j["failed_images"] == 3);
  CHECK(db.production(prod)["production_status"] == "failed");
  CHECK(db.production(prod)["attach_ids"] == nlohmann::json::array({x}));
}

TEST_CASE("fail_invalid fails job and production with zeroed counters",
          "[postgres][lifecycle]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(10);
  auto prod = db.create_production(org);
  quel::pg_store store{db.url()};
  auto c = claimed(db, store, prod, org);
  db.exec("UPDATE quel_production_jobs SET total_images = 4, completed_images = 1,"
          " failed_images = 2");

  REQUIRE(store.fail_invalid(c.job_id, c.epoch, "stage 0: quantity must be 1..16"));
  auto j = db.job(c.job_id.str());
  CHECK(j["job_status"] == "failed");
  CHECK(j["total_images"] == 0);
  CHECK(j["completed_images"] == 0);
  CHECK(j["failed_images"] == 0);
  CHECK(j["error_message"] == "stage 0: quantity must be 1..16");
  CHECK_FALSE(j["completed_at"].is_null());
  CHECK(j["started_at"].is_null());
  CHECK(db.production(prod)["production_status"] == "failed");
  CHECK(db.count("SELECT count(*) FROM quel_worker_job WHERE lease_expires_at > now()") == 0);
  CHECK(db.org_credit(org) == 10);
}

TEST_CASE("attach_rows returns the named rows that exist", "[postgres][attach]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto a = db.create_attach(std::string("inputs/a.png"), std::nullopt);
  auto b = db.create_attach(std::nullopt, std::string("legacy/b.jpg"));
  quel::pg_store store{db.url()};

  auto rows = store.attach_rows({b, a + b + 1000, a});
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].attach_id == a);
  CHECK(rows[0].file_path == std::optional<std::string>("inputs/a.png"));
  CHECK_FALSE(rows[0].directory.has_value());
  CHECK(rows[1].attach_id == b);
  CHECK_FALSE(rows[1].file_path.has_value());
  CHECK(rows[1].directory == std::optional<std::string>("legacy/b.jpg"));
  CHECK(store.attach_rows({}).empty());
}
