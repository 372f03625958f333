// Throughput of commit_image on one connection; hidden, run it explicitly:
//   postgres_tests "[benchmark]"
#include <chrono>
#include <iostream>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_store.hpp"
#include "tests/support/sample_commit.hpp"
#include "tests/support/test_database.hpp"

TEST_CASE("commit_image round trips per second", "[.][benchmark][postgres]") {
  QUEL_REQUIRE_TEST_DATABASE();
  constexpr int images = 2000;
  // Real jobs have at most 16 x 16 images; one huge job also shows the cost
  // of a growing generated_attach_ids array.
  auto per_job = GENERATE(20, 2000);
  quel::test::test_database db;
  auto org = db.create_org(images);
  quel::pg_store store{db.url()};
  std::vector<quel::claimed_job> jobs;
  for (int j = 0; j < images / per_job; ++j) {
    quel::ids::job id{db.create_job(std::nullopt, org, "single_batch", R"({"prompt": "p"})")};
    jobs.push_back(store.claim(id, "bench", std::chrono::minutes(10), 5));
    REQUIRE(jobs.back().result == quel::claimed_job::outcome::claimed);
    REQUIRE(store.start(id, jobs.back().epoch, per_job));
  }

  auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < images; ++i) {
    const auto& c = jobs[i / per_job];
    auto ic = quel::test::sample_commit(c.image(0, i % per_job, 1), 1);
    REQUIRE(store.commit_image(ic).result == quel::commit_result::outcome::committed);
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - begin;
  std::cout << images << " commits (" << per_job << " per job) in " << took.count()
            << " s: " << images / took.count() << " commits/s\n";
  CHECK(db.org_credit(org) == 0);
  CHECK(db.count("SELECT count(*) FROM quel_credit_log") == images);
}
