// Grouped commits take their row locks in one order (migration 006, issue
// 10): two ledger connections (say, of two workers) committing groups that
// touch the same jobs' organisations in opposite orders wait for each other
// instead of deadlocking. The interleaving is forced: a third connection
// holds the second job row of each group, so each group has done its first
// image when it stops; then both go on at once. Under 004's arrival-order
// locking each then held the organisation the other needed next, and
// PostgreSQL aborted one with 40P01 every time.
#include <chrono>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_job_admin.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "tests/support/sample_commit.hpp"
#include "tests/support/test_database.hpp"

using quel::claimed_job;
using quel::commit_result;
using job_id = quel::ids::job;
using quel::test::test_database;

namespace {

constexpr auto ttl = std::chrono::milliseconds(60'000);

claimed_job claimed(test_database& db, quel::pg_store& store, const std::string& org) {
  auto job = db.create_job(db.create_production(org), org, "single_batch",
                           R"({"prompt": "p", "quantity": 4})");
  auto c = store.claim(job_id{job}, "node-a", ttl, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);
  REQUIRE(store.start(c.job_id, c.epoch, 4));
  return c;
}

quel::image_commit commit_of(const claimed_job& c, int index) {
  return quel::test::sample_commit(c.image(0, index, 1), 1000 + index);
}

/// Backends of `pids` waiting for a lock right now.
int64_t waiting_for_locks(test_database& db, int a, int b) {
  return db.count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                  " AND pid IN (" + std::to_string(a) + ", " + std::to_string(b) + ")");
}

struct group_outcome {
  std::vector<commit_result> results;
  std::string error;  // what the call threw, if it did
};

} // namespace

TEST_CASE("grouped commits over the same organisations in opposite orders do not deadlock",
          "[postgres][commit][grouped][lock_order]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto x = db.create_org(100, "x");
  auto y = db.create_org(100, "y");
  quel::pg_store one{db.url()};
  quel::pg_store two{db.url()};

  const int rounds = 3;
  for (int round = 0; round < rounds; ++round) {
    INFO("round " << round);
    // Group one: job a (org x), then job b (org y). Group two: job c
    // (org y), then job d (org x).
    auto a = claimed(db, one, x);
    auto b = claimed(db, one, y);
    auto c = claimed(db, two, y);
    auto d = claimed(db, two, x);
    std::vector<quel::image_commit> first{commit_of(a, 0), commit_of(b, 0)};
    std::vector<quel::image_commit> second{commit_of(c, 0), commit_of(d, 0)};

    // The gate: the second job row of each group, locked until both wait.
    pqxx::connection gate_conn{db.url()};
    pqxx::work gate{gate_conn};
    gate.exec("SELECT 1 FROM quel_production_jobs WHERE job_id IN ('" + b.job_id.str()
              + "', '" + d.job_id.str() + "') FOR UPDATE");

    // Read before the threads use the connections (claims opened them).
    auto pid_one = one.backend_pid();
    auto pid_two = two.backend_pid();
    REQUIRE(pid_one != 0);
    REQUIRE(pid_two != 0);
    group_outcome r1, r2;
    auto run = [](quel::pg_store& store, const std::vector<quel::image_commit>& group,
                  group_outcome& out) {
      try {
        out.results = store.commit_images(group);
      } catch (const std::exception& e) {
        out.error = e.what();
      }
    };
    std::thread t1(run, std::ref(one), std::cref(first), std::ref(r1));
    std::thread t2(run, std::ref(two), std::cref(second), std::ref(r2));
    bool both_waiting = false;
    for (int i = 0; i < 500 && !both_waiting; ++i) {
      both_waiting = waiting_for_locks(db, pid_one, pid_two) == 2;
      if (!both_waiting)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    gate.commit();
    t1.join();
    t2.join();
    REQUIRE(both_waiting);

    // No deadlock (40P01 arrives as "database conflict: ... deadlock
    // detected"); each image committed exactly once.
    CHECK(r1.error == "");
    CHECK(r2.error == "");
    REQUIRE(r1.results.size() == 2);
    REQUIRE(r2.results.size() == 2);
    for (auto* r : {&r1, &r2})
      for (auto& result : r->results)
        CHECK(result.result == commit_result::outcome::committed);
    // Each answer belongs to its own image: the attach row it names is
    // that image's object.
    CHECK(db.attach(r1.results[0].attach_id)["attach_file_path"]
          == "generated/" + a.job_id.str() + "/s0-i0.webp");
    CHECK(db.attach(r1.results[1].attach_id)["attach_file_path"]
          == "generated/" + b.job_id.str() + "/s0-i0.webp");
    CHECK(db.attach(r2.results[0].attach_id)["attach_file_path"]
          == "generated/" + c.job_id.str() + "/s0-i0.webp");
    CHECK(db.attach(r2.results[1].attach_id)["attach_file_path"]
          == "generated/" + d.job_id.str() + "/s0-i0.webp");
  }
  // Charges = images: two per round on each organisation, never twice.
  CHECK(db.org_credit(x) == 100 - 2 * rounds);
  CHECK(db.org_credit(y) == 100 - 2 * rounds);
  CHECK(db.credit_log(x).size() == 2 * rounds);
  CHECK(db.credit_log(y).size() == 2 * rounds);
  CHECK(db.count("SELECT count(*) FROM quel_worker_image") == 4 * rounds);
}

TEST_CASE("an image's attempts are stored with its commit and with its job's finish",
          "[postgres][commit][attempts][status]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(100);
  quel::pg_store store{db.url()};
  auto a = claimed(db, store, org);

  auto lone = commit_of(a, 0);
  lone.attempts = 2;
  REQUIRE(store.commit_image(lone).result == commit_result::outcome::committed);
  auto grouped = commit_of(a, 1);
  grouped.attempts = 3;
  auto unknown = commit_of(a, 2);  // attempts 0: not known, stored as NULL
  auto r = store.commit_images({grouped, unknown});
  REQUIRE(r.size() == 2);
  CHECK(r[0].result == commit_result::outcome::committed);

  quel::job_finish f;
  f.job_id = a.job_id;
  f.epoch = a.epoch;
  f.completed = false;
  f.error_message = "1 of 4 images failed: stage 0 image 3: model error";
  f.failed_images = {quel::image_failure{0, 3, 4, "model error (after 4 attempts)"}};
  REQUIRE(store.finish(f));

  quel::pg_job_admin admin{db.url()};
  auto view = admin.job(a.job_id.str());
  REQUIRE(view);
  REQUIRE(view->made.size() == 3);
  CHECK(view->made[0].attempts == std::optional<int>{2});
  CHECK(view->made[1].attempts == std::optional<int>{3});
  CHECK(view->made[2].attempts == std::nullopt);
  REQUIRE(view->failures.size() == 1);
  CHECK(view->failures[0].image_index == 3);
  CHECK(view->failures[0].attempts == std::optional<int>{4});
  CHECK(view->failures[0].reason == "model error (after 4 attempts)");
}

TEST_CASE("the commit and finish forms of older workers still work after migration 006",
          "[postgres][commit][migrations]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(10);
  quel::pg_store store{db.url()};
  auto a = claimed(db, store, org);
  auto id = a.job_id.str();
  auto epoch = std::to_string(a.epoch);
  // As a worker older than 006 calls them (002's signatures).
  CHECK(db.count("SELECT count(*) FROM quel_worker_commit_image('" + id + "', " + epoch
                 + ", 0, 0, 'generated/" + id + "/s0-i0.webp', 's0-i0.webp', 'image/webp',"
                   " 10, '" + org + "', 1) WHERE o_outcome = 'committed'")
        == 1);
  CHECK(db.count("SELECT count(*) FROM quel_worker_image WHERE job_id = '" + id
                 + "' AND attempts IS NULL") == 1);
  CHECK(db.count("SELECT count(*) FROM (SELECT quel_worker_finish('" + id + "', " + epoch
                 + ", false, 'old worker', '{}'::bigint[]) AS ok) f WHERE ok") == 1);
  CHECK(db.job(id)["job_status"] == "failed");
  CHECK(db.org_credit(org) == 9);
  CHECK(db.count("SELECT count(*) FROM quel_worker_image_failure") == 0);
}

TEST_CASE("a producer's insert for an organisation does not wait for a worker's charge",
          "[postgres][commit][grouped][lock_order]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(100);
  quel::pg_store store{db.url()};
  auto a = claimed(db, store, org);
  auto b = claimed(db, store, org);

  // A grouped commit charging the organisation, its transaction still open
  // (as while its other images are committed).
  pqxx::connection worker_conn{db.url()};
  pqxx::work worker{worker_conn};
  auto group = "[{\"i\": 0, \"job_id\": \"" + a.job_id.str() + "\", \"epoch\": "
               + std::to_string(a.epoch) + ", \"stage\": 0, \"image\": 0, \"object_key\":"
               " \"generated/a/s0-i0.webp\", \"file_name\": \"s0-i0.webp\", \"mime_type\":"
               " \"image/webp\", \"size\": 1, \"org_id\": \"" + org + "\", \"cost\": 1},"
               " {\"i\": 1, \"job_id\": \"" + b.job_id.str() + "\", \"epoch\": "
               + std::to_string(b.epoch) + ", \"stage\": 0, \"image\": 0, \"object_key\":"
               " \"generated/b/s0-i0.webp\", \"file_name\": \"s0-i0.webp\", \"mime_type\":"
               " \"image/webp\", \"size\": 1, \"org_id\": \"" + org + "\", \"cost\": 1}]";
  auto r = worker.exec_params("SELECT o_outcome FROM quel_worker_commit_images($1::jsonb)",
                              group);
  REQUIRE(r.size() == 2);
  CHECK(r[0][0].as<std::string>() == "committed");

  // A producer inserts a production and a job for the same organisation:
  // their foreign keys take key-share locks on its row, which the worker's
  // FOR NO KEY UPDATE does not block (FOR UPDATE did, until it committed).
  pqxx::connection producer_conn{db.url()};
  pqxx::work producer{producer_conn};
  producer.exec("SET LOCAL lock_timeout = '2s'");
  CHECK_NOTHROW(producer.exec_params(
    "WITH p AS (INSERT INTO quel_production_photo (org_id) VALUES ($1::uuid)"
    "           RETURNING production_id)"
    " INSERT INTO quel_production_jobs (production_id, org_id, job_type, job_input_data)"
    " SELECT production_id, $1::uuid, 'single_batch', '{}'::jsonb FROM p",
    org));
  producer.commit();
  worker.commit();
  CHECK(db.org_credit(org) == 98);
}
