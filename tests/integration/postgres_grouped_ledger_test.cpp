// The credit ledger's calls for several images at once (issue 10): a grouped
// commit refuses only the images that must be refused, a stage's hold holds
// what the balance can pay for, a release frees only its images, and the
// plans of a long-lived connection stay on the indexes when the worker's
// tables fill up after being empty.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_store.hpp"
#include "tests/support/sample_commit.hpp"
#include "tests/support/test_database.hpp"

using namespace std::chrono_literals;
using quel::claimed_job;
using quel::commit_result;
using quel::hold_outcome;
using job_id = quel::ids::job;
using quel::test::test_database;

namespace {

constexpr auto ttl = std::chrono::milliseconds(60'000);

claimed_job claimed(test_database& db, quel::pg_store& store, const std::string& org,
                    int total = 4) {
  auto prod = db.create_production(org);
  auto job = db.create_job(prod, org, "single_batch", R"({"prompt": "p", "quantity": 4})");
  auto c = store.claim(job_id{job}, "node-a", ttl, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);
  REQUIRE(store.start(c.job_id, c.epoch, total));
  return c;
}

quel::image_commit commit_of(const claimed_job& c, int stage, int index, int64_t epoch) {
  auto image = c.image(stage, index, 1);
  image.epoch = epoch;
  return quel::test::sample_commit(image, 1000 + index);
}

int64_t holds_of(test_database& db, const std::string& job) {
  return db.count("SELECT count(*) FROM quel_worker_credit_hold WHERE job_id = '" + job + "'");
}

} // namespace

TEST_CASE("a grouped commit refuses only its fenced and duplicate images",
          "[postgres][commit][grouped]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(100);
  quel::pg_store store{db.url()};
  auto a = claimed(db, store, org);
  auto b = claimed(db, store, org);
  // Image a/0/0 is already committed; job b is then taken over by another
  // claim, so b's old epoch is stale.
  REQUIRE(store.commit_image(commit_of(a, 0, 0, a.epoch)).result
          == commit_result::outcome::committed);
  quel::pg_store other{db.url()};
  db.exec("UPDATE quel_worker_job SET lease_expires_at = now() WHERE job_id = '"
          + b.job_id.str() + "'");
  auto taken = other.claim(b.job_id, "node-b", ttl, 5);
  REQUIRE(taken.result == claimed_job::outcome::claimed);

  std::vector<quel::image_commit> group{
    commit_of(a, 0, 1, a.epoch),       // new: committed
    commit_of(b, 0, 0, b.epoch),       // stale epoch: lease_lost
    commit_of(a, 0, 0, a.epoch),       // duplicate: already_committed
    commit_of(b, 0, 1, taken.epoch),   // the new owner's: committed
    commit_of(a, 1, 0, a.epoch),       // new: committed
  };
  auto r = store.commit_images(group);
  REQUIRE(r.size() == group.size());
  CHECK(r[0].result == commit_result::outcome::committed);
  CHECK(r[1].result == commit_result::outcome::lease_lost);
  CHECK(r[2].result == commit_result::outcome::already_committed);
  CHECK(r[3].result == commit_result::outcome::committed);
  CHECK(r[4].result == commit_result::outcome::committed);

  // Charged exactly for the four images committed in all, once each.
  CHECK(db.org_credit(org) == 96);
  CHECK(db.credit_log(org).size() == 4);
  CHECK(db.count("SELECT count(*) FROM quel_worker_image WHERE job_id = '" + a.job_id.str()
                 + "'") == 3);
  CHECK(db.count("SELECT count(*) FROM quel_worker_image WHERE job_id = '" + b.job_id.str()
                 + "'") == 1);
  CHECK(db.job(a.job_id.str())["completed_images"] == 3);
  CHECK(db.job(b.job_id.str())["completed_images"] == 1);
  // The duplicate reports the attach row of the first commit, and each
  // result answers its own image (results are in the order given).
  CHECK(r[2].attach_id != 0);
  CHECK(r[0].attach_id != r[4].attach_id);
  CHECK(db.attach(r[0].attach_id)["attach_file_size"] == 1001);
  CHECK(db.attach(r[4].attach_id)["attach_file_size"] == 1000);

  // The same group again (an in-doubt retry) commits nothing more.
  auto again = store.commit_images(group);
  CHECK(again[0].result == commit_result::outcome::already_committed);
  CHECK(again[3].result == commit_result::outcome::already_committed);
  CHECK(again[4].result == commit_result::outcome::already_committed);
  CHECK(db.org_credit(org) == 96);
}

TEST_CASE("a grouped commit charges against one balance in order",
          "[postgres][commit][grouped][credits]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(2);
  quel::pg_store store{db.url()};
  auto a = claimed(db, store, org);
  auto r = store.commit_images({commit_of(a, 0, 0, a.epoch), commit_of(a, 0, 1, a.epoch),
                                commit_of(a, 0, 2, a.epoch)});
  REQUIRE(r.size() == 3);
  CHECK(r[0].result == commit_result::outcome::committed);
  CHECK(r[1].result == commit_result::outcome::committed);
  CHECK(r[1].balance_after == 0);
  CHECK(r[2].result == commit_result::outcome::insufficient_credits);
  CHECK(db.org_credit(org) == 0);
  CHECK(db.credit_log(org).size() == 2);
}

TEST_CASE("a stage holds what the balance can pay for and releases only its given-up images",
          "[postgres][credits][grouped]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(3);
  quel::pg_store store{db.url()};
  auto a = claimed(db, store, org);
  auto stage = a.image(0, 0, 1);

  auto held = store.hold_images(stage, {0, 1, 2, 3});
  REQUIRE(held.size() == 4);
  CHECK(held[0] == hold_outcome::held);
  CHECK(held[1] == hold_outcome::held);
  CHECK(held[2] == hold_outcome::held);
  CHECK(held[3] == hold_outcome::insufficient_credits);
  CHECK(holds_of(db, a.job_id.str()) == 3);
  // Holding again (a restarted stage) holds nothing twice.
  auto again = store.hold_images(stage, {0, 1, 2});
  CHECK(again == std::vector<hold_outcome>(3, hold_outcome::held));
  CHECK(holds_of(db, a.job_id.str()) == 3);

  // A stale epoch releases nothing; the stage's release frees only the
  // images it names, and the others' holds are captured by their commits.
  auto stale = stage;
  stale.epoch = a.epoch - 1;
  store.release_holds(stale, {0, 1, 2});
  CHECK(holds_of(db, a.job_id.str()) == 3);
  REQUIRE(store.commit_image(commit_of(a, 0, 0, a.epoch)).result
          == commit_result::outcome::committed);
  store.release_holds(stage, {2});
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold WHERE job_id = '"
                 + a.job_id.str() + "' AND image_index = 1") == 1);
  CHECK(holds_of(db, a.job_id.str()) == 1);
  // The released credit is free again for another job of the organisation.
  auto b = claimed(db, store, org);
  CHECK(store.hold_images(b.image(0, 0, 1), {0, 1})
        == std::vector<hold_outcome>{hold_outcome::held, hold_outcome::insufficient_credits});

  // A stage of a job that lost its lease holds nothing.
  CHECK(store.hold_images(stale, {3}) == std::vector<hold_outcome>{hold_outcome::lease_lost});
}

namespace {

/// Rows read by sequential scans of `table`, as the statistics collector
/// counts them. A backend reports its counts when it ends (close the
/// connections under test first); the reader's snapshot is cleared first.
int64_t seq_rows_read(test_database& db, const std::string& table) {
  for (int i = 0; i < 100; ++i) {
    if (db.count("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                 " AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
        == 0)
      break;
    std::this_thread::sleep_for(20ms);
  }
  db.exec("SELECT pg_stat_clear_snapshot()");
  return db.count("SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables"
                  " WHERE relname = '" + table + "'");
}

void fill(test_database& db, int rows) {
  auto n = std::to_string(rows);
  db.exec("INSERT INTO quel_worker_image (job_id, stage_index, image_index, attach_id,"
          " object_key) SELECT gen_random_uuid(), 0, 0, g, 'k' FROM generate_series(1, " + n
          + ") g;"
          "INSERT INTO quel_worker_credit_hold (job_id, stage_index, image_index, org_id,"
          " amount) SELECT gen_random_uuid(), 0, 0, gen_random_uuid(), 1 FROM"
          " generate_series(1, " + n + ") g;"
          "INSERT INTO quel_worker_job (job_id, owner_node, epoch) SELECT gen_random_uuid(),"
          " 'n', 1 FROM generate_series(1, " + n + ") g");
}

} // namespace

TEST_CASE("a long-lived connection keeps using the indexes once empty tables fill up",
          "[postgres][plans]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(1'000'000);
  // The worker's tables as they are right after being emptied, statistics
  // included (reltuples 0: the planner believes they are empty).
  db.exec("ANALYZE quel_worker_image, quel_worker_credit_hold, quel_worker_job");
  const std::vector<std::string> tables{"quel_worker_image", "quel_worker_credit_hold",
                                        "quel_worker_job"};
  std::vector<int64_t> before;
  for (const auto& t : tables)
    before.push_back(seq_rows_read(db, t));

  auto store = std::make_unique<quel::pg_store>(db.url());
  std::vector<claimed_job> jobs;
  for (int j = 0; j < 12; ++j)
    jobs.push_back(claimed(db, *store, org));
  // More than five calls of every statement while the tables are nearly
  // empty: from the sixth, plpgsql may keep a generic plan for good.
  for (int j = 0; j < 8; ++j) {
    REQUIRE(store->hold_images(jobs[j].image(0, 0, 1), {0, 1}).size() == 2);
    REQUIRE(store->commit_images({commit_of(jobs[j], 0, 0, jobs[j].epoch)}).size() == 1);
    REQUIRE(store->commit_image(commit_of(jobs[j], 0, 1, jobs[j].epoch)).result
            == commit_result::outcome::committed);
  }
  // The tables fill up behind the connection's back (other workers' jobs).
  const int rows = 20'000;
  fill(db, rows);
  for (int j = 8; j < 12; ++j)
    for (int stage = 0; stage < 2; ++stage) {
      REQUIRE(store->hold_images(jobs[j].image(stage, 0, 1), {0, 1})
              == std::vector<hold_outcome>(2, hold_outcome::held));
      auto r = store->commit_images({commit_of(jobs[j], stage, 0, jobs[j].epoch),
                                     commit_of(jobs[j], stage, 1, jobs[j].epoch)});
      REQUIRE(r.size() == 2);
      CHECK(r[0].result == commit_result::outcome::committed);
      CHECK(r[1].result == commit_result::outcome::committed);
    }
  store.reset();  // its backend reports its counts when it ends

  // One sequential scan of a full table reads all its rows; while they were
  // nearly empty, all the scans together read a few hundred at most.
  for (size_t t = 0; t < tables.size(); ++t) {
    auto read = seq_rows_read(db, tables[t]) - before[t];
    INFO(tables[t] << ": " << read << " rows read by sequential scans");
    CHECK(read < rows);
  }
}
