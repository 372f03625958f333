// The shutdown deadline holds even while the model is inside a long blocking
// call: the process hands the job back and exits shortly after the deadline
// instead of waiting for the call (a 2 s deadline was once overshot by the
// length of a local generator call). The abandoned call charges nothing; the
// job resumes on another worker and is charged once per image.
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

} // namespace

TEST_CASE("SIGTERM during a long blocking model call exits within the deadline",
          "[fault][lifecycle][shutdown]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(100);
  auto production = h.db().create_production(org);
  auto input = h.add_input("inputs/model.png", sample_image("png"));
  auto job = h.db().create_job(production, org, "single_batch",
                               R"({"prompt":"slow model","quantity":2,)"
                               R"("individualImageAttachIds":[{"attachId":)"
                                 + std::to_string(input) + R"(,"type":"model"}]})");
  h.enqueue(job);

  const auto deadline = 1s;
  // Each generator call blocks 20 s: far longer than the deadline.
  auto env = h.worker_env({{"QUEL_NODE_ID", "slow-model"},
                           {"QUEL_FAULTS_GENERATOR_LATENCY_MS", "20000"},
                           {"QUEL_WORKER_SHUTDOWN_DEADLINE", "1"}});
  fault_process worker{{worker_binary(), "run"}, env, h.storage_dir() + "/slow-model.log"};
  REQUIRE(eventually([&] { return status_of(h, job) == "processing"; }, 10s));
  std::this_thread::sleep_for(500ms);  // the generator calls are under way

  auto signalled = std::chrono::steady_clock::now();
  worker.signal(SIGTERM);
  auto end = worker.wait_for(30s);
  auto took = std::chrono::steady_clock::now() - signalled;
  INFO(worker.log());
  REQUIRE(end);
  INFO("worker ended with " << describe(*end));
  CHECK(end->exited);
  CHECK(end->code == 0);
  INFO("exit took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                    << " ms");
  CHECK(took < deadline + 1s);

  // Handed back: at its queue, no processing list, lease released, nothing
  // charged, not failed.
  CHECK(h.redis().lrange("jobs:queue") == std::vector<std::string>{job});
  for (auto& list : h.redis().keys("quel:processing:*"))
    CHECK(h.redis().llen(list) == 0);
  CHECK(status_of(h, job) == "processing");
  CHECK(h.db().count("SELECT count(*) FROM quel_worker_job WHERE lease_expires_at > now()") == 0);
  CHECK(h.db().count("SELECT count(*) FROM quel_credit_log") == 0);

  // Another worker resumes it: each image charged once.
  h.drain({{"QUEL_NODE_ID", "after-slow-model"}});
  auto row = h.db().job(job);
  CHECK(row["job_status"] == "completed");
  CHECK(row["completed_images"] == 2);
  CHECK(h.db().org_credit(org) == 98);
  CHECK(h.db().count("SELECT count(*) FROM quel_credit_log") == 2);
  CHECK(h.non_empty_lists().empty());
}
