// The worker's life cycle around failures, with the real binary: graceful
// shutdown hands unfinished jobs back, the reconciler re-enqueues jobs whose
// id never reached Redis, dead letters can be pushed back, and a job that
// keeps crashing the worker is quarantined.
#include <signal.h>

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/fault/fault_wait.hpp"
#include "tests/fault/fault_worker_process.hpp"
#include "tests/support/worker_harness.hpp"

using namespace quel::test;
using namespace std::chrono_literals;

namespace {

std::string status_of(worker_harness& h, const std::string& job) {
  return h.db().job(job)["job_status"].get<std::string>();
}

struct one_job {
  std::string org;
  std::string job;
};

one_job seed_job(worker_harness& h, int quantity, int64_t credits = 100) {
  one_job j;
  j.org = h.db().create_org(credits);
  auto production = h.db().create_production(j.org);
  auto input = h.add_input("inputs/model.png", sample_image("png"));
  j.job = h.db().create_job(production, j.org, "single_batch",
                            R"({"prompt":"lifecycle","quantity":)" + std::to_string(quantity)
                              + R"(,"individualImageAttachIds":[{"attachId":)"
                              + std::to_string(input) + R"(,"type":"model"}]})");
  return j;
}

} // namespace

// No ';' in test names: CMake's catch_discover_tests splits a name there, and
// ctest then runs two filters that match nothing, which Catch2 counts as a pass.
TEST_CASE("SIGTERM after the shutdown deadline hands the job back, and it resumes later",
          "[fault][lifecycle]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto j = seed_job(h, 2);
  h.enqueue(j.job);
  auto env = h.worker_env({{"QUEL_NODE_ID", "lifecycle-a"},
                           {"QUEL_GENERATOR_LOCAL_LATENCY_MS", "3000"},
                           {"QUEL_WORKER_SHUTDOWN_DEADLINE", "0.3"}});
  fault_process worker{{worker_binary(), "run"}, env, h.storage_dir() + "/sigterm-a.log"};
  // Bounds are generous (a busy runner is slow); the model's 3 s per image
  // keeps the job in flight long after the poll saw it start.
  REQUIRE(eventually([&] { return status_of(h, j.job) == "processing"; }, 60s));
  worker.signal(SIGTERM);
  auto end = worker.wait_for(30s);
  REQUIRE(end);
  INFO(worker.log());
  CHECK(end->exited);
  CHECK(end->code == 0);
  // Not failed, not lost: back at the head of its queue, lease given back.
  CHECK(status_of(h, j.job) == "processing");
  CHECK(h.redis().lrange("jobs:queue") == std::vector<std::string>{j.job});
  CHECK(h.db().count("SELECT count(*) FROM quel_worker_job WHERE lease_expires_at > now()") == 0);
  CHECK(h.db().count("SELECT count(*) FROM quel_credit_log") == 0);

  h.drain({{"QUEL_NODE_ID", "lifecycle-b"}});
  auto row = h.db().job(j.job);
  CHECK(row["job_status"] == "completed");
  CHECK(row["completed_images"] == 2);
  CHECK(h.db().org_credit(j.org) == 98);
  CHECK(h.non_empty_lists().empty());
}

TEST_CASE("SIGTERM lets jobs in flight finish within the deadline", "[fault][lifecycle]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto j = seed_job(h, 2);
  h.enqueue(j.job);
  // 2 s per image: the poll (every 100 ms) sees the job in flight even on a
  // busy runner, and SIGTERM arrives before it is done. The worker may use
  // the whole 20 s deadline, so the wait is longer than that.
  auto env = h.worker_env({{"QUEL_GENERATOR_LOCAL_LATENCY_MS", "2000"},
                           {"QUEL_WORKER_SHUTDOWN_DEADLINE", "20"}});
  fault_process worker{{worker_binary(), "run"}, env, h.storage_dir() + "/sigterm-b.log"};
  REQUIRE(eventually([&] { return status_of(h, j.job) == "processing"; }, 60s));
  worker.signal(SIGTERM);
  auto end = worker.wait_for(45s);
  REQUIRE(end);
  INFO(worker.log());
  CHECK(end->code == 0);
  CHECK(status_of(h, j.job) == "completed");
  CHECK(h.non_empty_lists().empty());
}

TEST_CASE("the reconciler re-enqueues an old unfinished job that has no id in Redis",
          "[fault][lifecycle]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto lost = seed_job(h, 1);
  auto fresh = seed_job(h, 1);
  // The producer died between INSERT and LPUSH, ten minutes ago.
  h.db().exec("UPDATE quel_production_jobs SET created_at = now() - interval '10 minutes'"
              " WHERE job_id = '" + lost.job + "'");
  auto env = h.worker_env({{"QUEL_WORKER_RECONCILE_INTERVAL", "0.3"},
                           {"QUEL_WORKER_RECONCILE_AGE", "120"}});
  fault_process worker{{worker_binary(), "run"}, env, h.storage_dir() + "/reconcile.log"};
  bool done = eventually([&] { return status_of(h, lost.job) == "completed"; }, 60s);
  worker.signal(SIGTERM);
  auto end = worker.wait_for(15s);
  INFO(worker.log());
  CHECK(done);
  REQUIRE(end);
  CHECK(end->code == 0);
  CHECK_THAT(worker.log(), Catch::Contains("Reconciler: unfinished job had no id in Redis"));
  // A job younger than the age threshold may still be on its producer's way.
  CHECK(status_of(h, fresh.job) == "pending");
}

TEST_CASE("dead letters can be pushed back onto their queue", "[fault][lifecycle]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  const std::string id = "0b0b0b0b-1111-4222-8333-444444444444";
  h.enqueue(id);
  h.drain();
  REQUIRE(h.redis().llen("jobs:dead") == 1);
  // The row arrives late (a replica lag, a slow producer): requeue it.
  auto org = h.db().create_org(10);
  auto production = h.db().create_production(org);
  auto input = h.add_input("inputs/late.png", sample_image("png"));
  h.db().exec("INSERT INTO quel_production_jobs (job_id, production_id, org_id, job_type,"
              " job_input_data) VALUES ('" + id + "', '" + production + "', '" + org
              + "', 'single_batch', '{\"prompt\":\"late\",\"quantity\":1,"
                "\"individualImageAttachIds\":[{\"attachId\":" + std::to_string(input)
              + ",\"type\":\"model\"}]}')");
  auto r = h.run_worker({"requeue-dead", "--all"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("requeued " + id + " on jobs:queue"));
  CHECK(h.redis().llen("jobs:dead") == 0);
  CHECK(h.redis().lrange("jobs:queue") == std::vector<std::string>{id});
  h.drain();
  CHECK(status_of(h, id) == "completed");
}

TEST_CASE("a job that keeps crashing the worker is quarantined", "[fault][lifecycle]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto j = seed_job(h, 1);
  h.enqueue(j.job);
  auto crashing = h.worker_env({{"QUEL_NODE_ID", "poison"},
                                {"QUEL_WORKER_MAX_ATTEMPTS", "2"},
                                {"QUEL_FAULTS_CRASH_POINTS", "after_claim"},
                                {"QUEL_FAULTS_CRASH_PROBABILITY", "1"}});
  for (int i = 0; i < 2; ++i) {
    auto r = h.run_worker({"run", "--drain"}, crashing, std::chrono::seconds{90});
    INFO(r.err);
    CHECK(r.exit_code != 0);  // killed by SIGKILL at the crash point
    CHECK_THAT(r.err, Catch::Contains("fault injection: crashing at after_claim"));
  }
  h.drain({{"QUEL_NODE_ID", "poison"}, {"QUEL_WORKER_MAX_ATTEMPTS", "2"}});
  auto row = h.db().job(j.job);
  CHECK(row["job_status"] == "failed");
  CHECK_THAT(row["error_message"].get<std::string>(), Catch::Contains("quarantined"));
  CHECK(h.db().count("SELECT count(*) FROM quel_credit_log") == 0);
  CHECK(h.non_empty_lists().empty());
}
