// Holds and charges: balances never go below zero, holds count against them,
// and concurrent workers sharing one organisation stay exact.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_store.hpp"
#include "tests/support/sample_commit.hpp"
#include "tests/support/test_database.hpp"

using quel::claimed_job;
using quel::commit_result;
using quel::hold_outcome;
using quel::test::test_database;

namespace {

constexpr auto ttl = std::chrono::milliseconds(60'000);

quel::image_commit image(const claimed_job& c, int stage, int index, int64_t cost) {
  return quel::test::sample_commit(c.image(stage, index, cost), 10);
}

claimed_job claimed(test_database& db, quel::pg_store& store, const std::string& org,
                    int quantity) {
  auto job = db.create_job(std::nullopt, org, "single_batch",
                           R"({"prompt": "p", "quantity": )" + std::to_string(quantity) +
                             "}");
  auto c = store.claim(quel::ids::job{job}, "node-a", ttl, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);
  REQUIRE(store.start(c.job_id, c.epoch, quantity));
  return c;
}

} // namespace

TEST_CASE("3 credits pay for 3 of 4 images, and the 4th hold reports insufficient credits",
          "[postgres][credits]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(3);
  quel::pg_store store{db.url()};
  auto c = claimed(db, store, org, 4);

  int committed = 0;
  std::vector<hold_outcome> holds;
  for (int i = 0; i < 4; ++i) {
    holds.push_back(store.hold(c.image(0, i, 1)));
    if (holds.back() != hold_outcome::held)
      continue;
    auto r = store.commit_image(image(c, 0, i, 1));
    REQUIRE(r.result == commit_result::outcome::committed);
    CHECK(r.balance_after == 2 - i);
    ++committed;
  }
  CHECK(committed == 3);
  CHECK(holds[3] == hold_outcome::insufficient_credits);
  CHECK(db.org_credit(org) == 0);
  auto log = db.credit_log(org);
  REQUIRE(log.size() == 3);
  CHECK(log[0]["balance_after"] == 2);
  CHECK(log[1]["balance_after"] == 1);
  CHECK(log[2]["balance_after"] == 0);
  // Without a hold the commit itself refuses, writing nothing.
  auto r = store.commit_image(image(c, 0, 3, 1));
  CHECK(r.result == commit_result::outcome::insufficient_credits);
  CHECK(db.count("SELECT count(*) FROM quel_attach") == 3);
  CHECK(db.job(c.job_id.str())["completed_images"] == 3);
}

TEST_CASE("holds count against the balance until committed or released",
          "[postgres][credits]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(2);
  quel::pg_store store{db.url()};
  auto a = claimed(db, store, org, 2);
  auto b = claimed(db, store, org, 1);

  REQUIRE(store.hold(a.image(0, 0, 1)) == hold_outcome::held);
  REQUIRE(store.hold(a.image(0, 1, 1)) == hold_outcome::held);
  // Holding the same image again reserves nothing more.
  CHECK(store.hold(a.image(0, 1, 1)) == hold_outcome::held);
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold") == 2);

  CHECK(store.hold(b.image(0, 0, 1)) == hold_outcome::insufficient_credits);
  CHECK(store.commit_image(image(b, 0, 0, 1)).result ==
        commit_result::outcome::insufficient_credits);
  CHECK(db.org_credit(org) == 2);
  CHECK(db.count("SELECT count(*) FROM quel_credit_log") == 0);

  // A held image spends its own hold.
  auto r = store.commit_image(image(a, 0, 0, 1));
  REQUIRE(r.result == commit_result::outcome::committed);
  CHECK(r.balance_after == 1);
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold") == 1);
  CHECK(store.hold(b.image(0, 0, 1)) == hold_outcome::insufficient_credits);
  // A committed image needs no new hold.
  CHECK(store.hold(a.image(0, 0, 1)) == hold_outcome::held);
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold") == 1);

  auto stale = a.image(0, 1, 1);
  stale.epoch++;
  store.release_hold(stale);  // a stale epoch: fenced
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold") == 1);
  store.release_hold(a.image(0, 1, 1));
  CHECK(db.count("SELECT count(*) FROM quel_worker_credit_hold") == 0);
  CHECK(store.hold(b.image(0, 0, 1)) == hold_outcome::held);
  CHECK(store.commit_image(image(b, 0, 0, 1)).balance_after == 0);
  CHECK(db.org_credit(org) == 0);
  CHECK(db.count("SELECT count(*) FROM quel_credit_log WHERE amount > 0") == 0);
}

TEST_CASE("8 workers on one organisation spend exactly its 50 credits on 100 images",
          "[postgres][credits][concurrency]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(50);
  auto with_holds = GENERATE(true, false);
  INFO("hold before commit: " << with_holds);

  // Ten jobs of ten images; every thread works on every job with the job's
  // epoch (as several stages of one worker would).
  std::vector<claimed_job> jobs;
  {
    quel::pg_store setup{db.url()};
    for (int j = 0; j < 10; ++j)
      jobs.push_back(claimed(db, setup, org, 10));
  }

  constexpr int threads = 8;
  std::atomic<int> committed{0};
  std::atomic<int> refused{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        quel::pg_store store{db.url()};
        for (int n = t; n < 100; n += threads) {
          const auto& c = jobs[n % 10];
          int index = n / 10;
          if (with_holds &&
              store.hold(c.image(0, index, 1)) != hold_outcome::held) {
            ++refused;
            continue;
          }
          auto r = store.commit_image(image(c, 0, index, 1));
          if (r.result == commit_result::outcome::committed)
            ++committed;
          else if (r.result == commit_result::outcome::insufficient_credits)
            ++refused;
          else
            ++errors;
        }
      } catch (...) {
        ++errors;
      }
    });
  }
  for (auto& th : pool)
    th.join();

  CHECK(errors == 0);
  CHECK(committed == 50);
  CHECK(refused == 50);
  CHECK(db.org_credit(org) == 0);
  CHECK(db.count("SELECT count(*) FROM quel_attach") == 50);
  CHECK(db.count("SELECT count(*) FROM quel_worker_image") == 50);
  CHECK(db.count("SELECT coalesce(sum(completed_images), 0) FROM quel_production_jobs") == 50);
  auto log = db.credit_log(org);
  REQUIRE(log.size() == 50);
  std::set<int64_t> balances;
  for (const auto& row : log) {
    CHECK(row["amount"] == -1);
    balances.insert(row["balance_after"].get<int64_t>());
  }
  // Every balance from 49 down to 0 exactly once: never negative, no gaps.
  CHECK(balances.size() == 50);
  CHECK(*balances.begin() == 0);
  CHECK(*balances.rbegin() == 49);
}
