// A worker that serves only some modules (worker.modules) leaves the other
// modules' jobs to the workers that serve them. Its reconciler puts a lost
// job of another module back onto that module's own queue; an id of such a
// job already waiting or held by another node is not pushed again; a job
// naming an unknown module is reported, never rewritten to fashion
// (CONTRACT.md section 2). Its reaper takes back a dead node's ids of its own
// queues only, and keeps the node known while it holds others.
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

/// A one-image job whose input names `module` (none when empty).
std::string new_job(worker_harness& h, const std::string& module) {
  auto org = h.db().create_org(100);
  auto production = h.db().create_production(org);
  auto input = h.add_input("inputs/" + (module.empty() ? "none" : module) + ".png",
                           sample_image("png"));
  std::string named = module.empty() ? "" : R"("module":")" + module + R"(",)";
  auto job = h.db().create_job(production, org, "single_batch",
                               "{" + named + R"("prompt":"reconcile","quantity":1,)"
                                 R"("individualImageAttachIds":[{"attachId":)"
                                 + std::to_string(input) + R"(,"type":"model"}]})");
  return job;
}

/// The same, created ten minutes ago: old enough for the reconciler.
std::string old_job(worker_harness& h, const std::string& module) {
  auto job = new_job(h, module);
  h.db().exec("UPDATE quel_production_jobs SET created_at = now() - interval '10 minutes'"
              " WHERE job_id = '" + job + "'");
  return job;
}

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("a fashion-only worker's reconciler leaves other modules' jobs to their queues",
          "[fault][lifecycle][reconcile]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto lost_fashion = old_job(h, "");        // no module: fashion's
  auto lost_beauty = old_job(h, "beauty");   // in no list at all
  auto held_cinema = old_job(h, "cinema");   // held by a live node serving cinema
  auto waiting_eats = old_job(h, "eats");    // waiting in its own queue
  auto unknown = old_job(h, "nope");         // not a configured module

  // Another node that serves cinema is alive and holds its id.
  h.redis().command({"SET", "quel:node:other-node", "x", "PX", "600000"});
  h.redis().command({"SADD", "quel:nodes", "other-node"});
  h.redis().lpush("quel:processing:other-node:jobs:queue:cinema", held_cinema);
  h.redis().lpush("jobs:queue:eats", waiting_eats);

  auto env = h.worker_env({{"QUEL_NODE_ID", "fashion-only"},
                           {"QUEL_WORKER_MODULES", "fashion"},
                           {"QUEL_WORKER_RECONCILE_INTERVAL", "0.3"},
                           {"QUEL_WORKER_RECONCILE_AGE", "120"}});
  fault_process worker{{worker_binary(), "run"}, env,
                       h.storage_dir() + "/reconcile-modules.log"};
  bool fashion_done =
    eventually([&] { return status_of(h, lost_fashion) == "completed"; }, 20s);
  bool beauty_back = eventually(
    [&] { return !h.redis().lrange("jobs:queue:beauty").empty(); }, 10s);
  // Several more passes: nothing may be pushed twice.
  std::this_thread::sleep_for(1500ms);
  worker.signal(SIGTERM);
  auto end = worker.wait_for(15s);
  INFO(worker.log());
  REQUIRE(end);
  CHECK(end->code == 0);
  CHECK(fashion_done);
  CHECK(beauty_back);

  // The beauty job waits on beauty's queue, once, untouched by this worker.
  CHECK(h.redis().lrange("jobs:queue:beauty") == std::vector<std::string>{lost_beauty});
  CHECK(status_of(h, lost_beauty) == "pending");
  // Nothing was rewritten to fashion's queue, and nothing failed.
  CHECK(h.redis().lrange("jobs:queue").empty());
  CHECK(h.db().count("SELECT count(*) FROM quel_production_jobs"
                     " WHERE job_status = 'failed'") == 0);
  // Ids already in Redis stay where they were, once.
  CHECK(h.redis().lrange("jobs:queue:cinema").empty());
  CHECK(h.redis().lrange("quel:processing:other-node:jobs:queue:cinema")
        == std::vector<std::string>{held_cinema});
  CHECK(h.redis().lrange("jobs:queue:eats") == std::vector<std::string>{waiting_eats});
  // The unknown module is reported once and left for an operator.
  CHECK(status_of(h, unknown) == "pending");
  auto lists = h.redis().keys("jobs:*");
  for (auto& list : h.redis().keys("quel:processing:*"))
    lists.push_back(list);
  for (auto& list : lists)
    for (auto& entry : h.redis().lrange(list))
      CHECK(entry.find(unknown) == std::string::npos);
  CHECK(occurrences(worker.log(), "its module is not a configured module") == 1);
  CHECK_THAT(worker.log(), Catch::Contains("nope"));
}

TEST_CASE("a fashion-only worker's reaper leaves a dead node's other ids to their workers",
          "[fault][lifecycle][reaper]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto fashion_job = new_job(h, "");
  auto beauty_job = new_job(h, "beauty");
  // A node that served both died holding one id of each queue.
  h.redis().command({"SADD", "quel:nodes", "gone-node"});
  h.redis().lpush("quel:processing:gone-node:jobs:queue", fashion_job);
  h.redis().lpush("quel:processing:gone-node:jobs:queue:beauty", beauty_job);
  auto known = [&] {
    return h.redis().command({"SISMEMBER", "quel:nodes", "gone-node"}) == "1";
  };

  h.drain({{"QUEL_NODE_ID", "fashion-only"}, {"QUEL_WORKER_MODULES", "fashion"}});
  CHECK(status_of(h, fashion_job) == "completed");
  CHECK(status_of(h, beauty_job) == "pending");
  CHECK(h.redis().lrange("quel:processing:gone-node:jobs:queue:beauty")
        == std::vector<std::string>{beauty_job});
  CHECK(known());  // so a beauty worker still finds the node

  h.drain({{"QUEL_NODE_ID", "beauty-only"}, {"QUEL_WORKER_MODULES", "beauty"}});
  CHECK(status_of(h, beauty_job) == "completed");
  CHECK_FALSE(known());
  CHECK(h.non_empty_lists().empty());
}
