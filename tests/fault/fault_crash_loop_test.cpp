// Scenario 1: one node crash-looping under SIGKILL, at random moments and at
// every named crash point, restarted each time, then drained without faults.
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "common/fault_injection.hpp"
#include "tests/fault/fault_world.hpp"

namespace quel::test {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int jobs_up_front = 24;   // then two more per crash point
constexpr int random_kills = 16;

// Points met once per job fire with a high chance; points met once per image
// (four times per job) with a lower one, so that some images of a job are
// committed before the crash.
double probability_of(const std::string& point) {
  if (point == "after_hold" || point == "after_generate" || point == "after_upload"
      || point == "after_commit")
    return 0.25;
  return 0.5;
}

} // namespace

TEST_CASE("crash loop: SIGKILL at random moments and at every crash point, then drain",
          "[fault]") {
  QUEL_REQUIRE_TEST_DATABASE();
  QUEL_REQUIRE_TEST_REDIS();
  auto started = std::chrono::steady_clock::now();
  std::mt19937 rng{fault_seed("crash loop")};

  fault_world w{"crash-loop", "", ""};
  w.create_orgs(3, 100000);
  w.create_inputs(4);
  for (int n = 0; n < jobs_up_front; ++n)
    w.enqueue_new_job();

  // A short lease and a stable node id: each restart takes back its own ids
  // and jobs at once. Quarantine is pushed out of reach so that every job is
  // expected to complete (a quarantined one would be listed, not hidden).
  const env_map base{{"QUEL_LEASE_TTL", "2"}, {"QUEL_WORKER_MAX_ATTEMPTS", "100"}};
  const std::string node = "fault-crash-node";
  std::vector<std::string> problems;
  int kills = 0;
  int points_fired = 0;

  std::uniform_int_distribution<int> delay_ms{200, 2000};
  for (int i = 0; i < random_kills; ++i) {
    auto p = w.start_worker(node, {"run"}, base);
    std::this_thread::sleep_for(milliseconds(delay_ms(rng)));
    if (!p->running()) {
      problems.push_back("worker ended on its own (" + describe(p->end())
                         + ") before random kill " + std::to_string(i) + ": "
                         + log_tail(p->log()));
      continue;
    }
    p->kill_now();
    ++kills;
  }

  // Each point is first armed with its own probability for a bounded try;
  // if it did not fire, it is armed for sure with a new job in the queue, so
  // that the point is on the way of some work however much the earlier
  // workers got done, and given a generous bound (a busy runner is slow).
  for (auto& point : fault::crash_point_names()) {
    for (int k = 0; k < 2; ++k)
      w.enqueue_new_job();
    bool fired = false;
    for (double probability : {probability_of(point), 1.0}) {
      if (probability == 1.0)
        w.enqueue_new_job();
      env_map env = base;
      env["QUEL_FAULTS_CRASH_POINTS"] = point;
      env["QUEL_FAULTS_CRASH_PROBABILITY"] = std::to_string(probability);
      auto p = w.start_worker(node, {"run"}, env);
      auto end = p->wait_for(probability < 1.0 ? seconds(12) : seconds(90));
      if (!end) {
        p->kill_now();  // the point was not reached in time: try again, armed for sure
        ++kills;
        if (probability == 1.0)
          problems.push_back("crash point " + point + ", armed for sure with a new job queued,"
                             " was not reached within 90 s: " + log_tail(p->log()));
        continue;
      }
      auto log = p->log();
      fired = end->signal == SIGKILL
              && log.find("fault injection: crashing at " + point) != std::string::npos;
      if (end->signal == SIGKILL)
        ++kills;
      if (!fired)
        problems.push_back("crash point " + point + ": worker ended with " + describe(*end)
                           + " without the crash line: " + log_tail(log));
      break;
    }
    INFO("crash point " << point);
    CHECK(fired);
    if (fired)
      ++points_fired;
  }

  auto drain = w.start_worker(node, {"run", "--drain"}, base);
  if (auto p = unclean_exit(*drain, seconds(180), "run --drain"); !p.empty()) {
    problems.push_back(p);
    drain->kill_now();
  }

  auto r = w.check("crash-loop");
  r.kills = kills;
  r.faults = points_fired;
  conclude(r, problems, started);
  CHECK(kills >= random_kills + static_cast<int>(fault::crash_point_names().size()));
  CHECK(r.quarantined == 0);
  REQUIRE(r.clean());
}

} // namespace quel::test
