// Scenario: two nodes on the same queues, each SIGKILLed at random moments
// and restarted under its stable node id, then both drained. A restarted
// node hands its old ids back to the queues while its killed incarnation's
// PostgreSQL leases still run; the other node takes some of them and must
// neither drop them (nobody would finish the job) nor work on them before
// the lease expires. The reconciler is off, so it cannot hide a lost id.
#include <chrono>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/fault/fault_world.hpp"

namespace quel::test {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int job_count = 40;
constexpr int kill_rounds = 12;

} // namespace

TEST_CASE("two nodes crash-looping under SIGKILL with stable ids lose no id and then drain",
          "[fault]") {
  QUEL_REQUIRE_TEST_DATABASE();
  QUEL_REQUIRE_TEST_REDIS();
  auto started = std::chrono::steady_clock::now();
  std::mt19937 rng{fault_seed("two-node crash loop")};

  fault_world w{"two-node-crash-loop", "", ""};
  w.create_orgs(3, 100000);
  w.create_inputs(4);
  for (int n = 0; n < job_count; ++n)
    w.enqueue(w.add_job(n));

  // A 5 s lease: long enough that a restarted node's handed-back ids reach
  // the other node while the killed incarnation's leases are still live.
  // Quarantine is out of reach, so every job is expected to complete.
  const env_map base{{"QUEL_LEASE_TTL", "5"},
                     {"QUEL_WORKER_MAX_ATTEMPTS", "100"},
                     {"QUEL_WORKER_RECONCILE_INTERVAL", "0"}};
  const std::vector<std::string> nodes{"fault-pair-a", "fault-pair-b"};
  std::vector<std::unique_ptr<fault_process>> workers;
  for (auto& node : nodes)
    workers.push_back(w.start_worker(node, {"run"}, base));

  std::vector<std::string> problems;
  int kills = 0;
  int restarts = 0;
  std::uniform_int_distribution<int> delay_ms{300, 2500};
  std::uniform_int_distribution<size_t> victim_of{0, nodes.size() - 1};
  for (int round = 0; round < kill_rounds; ++round) {
    std::this_thread::sleep_for(milliseconds(delay_ms(rng)));
    auto victim = victim_of(rng);
    auto& p = workers[victim];
    if (!p->running())
      problems.push_back(nodes[victim] + " ended on its own (" + describe(p->end())
                         + ") before kill round " + std::to_string(round) + ": "
                         + log_tail(p->log()));
    else {
      p->kill_now();
      ++kills;
    }
    // At once, under the same node id: it takes back its own ids and jobs.
    p = w.start_worker(nodes[victim], {"run"}, base);
    ++restarts;
  }
  for (auto& p : workers)
    if (p->running()) {
      p->kill_now();
      ++kills;
    }

  // Both nodes drain together: each must end only when no id is left to
  // take over, and every job must then be finished.
  std::vector<std::unique_ptr<fault_process>> drains;
  for (auto& node : nodes)
    drains.push_back(w.start_worker(node, {"run", "--drain"}, base));
  for (size_t i = 0; i < drains.size(); ++i)
    if (auto problem = unclean_exit(*drains[i], seconds(180), nodes[i] + ": run --drain");
        !problem.empty())
      problems.push_back(problem);

  auto r = w.check("two-node-crash-loop");
  r.kills = kills;
  r.faults = restarts;
  conclude(r, problems, started);
  CHECK(kills >= kill_rounds);
  CHECK(r.quarantined == 0);
  CHECK(r.completed == job_count);
  REQUIRE(r.clean());
}

} // namespace quel::test
