// Scenario 2: the private Redis (AOF, fsync always, like a production Redis
// with persistence) is SIGKILLed and started again, then the private
// PostgreSQL is restarted (pg_ctl restart -m fast), both while one worker is
// in the middle of its jobs (bounded waits make sure it holds jobs at each
// fault). The same worker must carry on by itself.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/fault/fault_private_postgres.hpp"
#include "tests/fault/fault_wait.hpp"
#include "tests/fault/fault_world.hpp"
#include "tests/support/test_redis.hpp"

namespace quel::test {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

} // namespace

TEST_CASE("Redis and PostgreSQL restarted mid-run", "[fault]") {
  auto started = std::chrono::steady_clock::now();
  redis_server_process redis{{"--appendonly", "yes", "--appendfsync", "always"}};
  private_postgres pg;
  fault_world w{"restarts", redis.url(), pg.url()};
  w.create_orgs(2, 100000);
  w.create_inputs(3);

  // Work must be in flight at each restart whatever the machine's speed:
  // slow jobs (each image sleeps 500 ms in the model; max_jobs 10 on two
  // generator threads: six jobs at once), `outstanding` of them kept unfinished, and a bounded
  // wait until the worker holds jobs before each fault (see the proxy test).
  constexpr int outstanding = 9;
  constexpr int job_limit = 150;
  std::vector<std::string> problems;
  int faults = 0;
  const env_map env{{"QUEL_LEASE_TTL", "5"},
                    {"QUEL_GENERATOR_LOCAL_LATENCY_MS", "500"},
                    {"QUEL_WORKER_MAX_JOBS", "10"}};
  auto worker = w.start_worker("fault-restart-node", {"run"}, env);

  // The worker made progress since `finished_before` and holds at least two
  // jobs while another waits; false (and a problem noted) after 90 s.
  auto busy = [&](int finished_before, const std::string& what) {
    bool met = false;
    auto c = w.keep_busy_until(
      outstanding, job_limit,
      [&](const job_census& c) {
        return !worker->running()
               || (c.finished > finished_before && c.processing >= 2 && c.waiting >= 1);
      },
      seconds(90), met);
    met = met && worker->running();
    if (!met)
      problems.push_back("before " + what + ": no progress with work in flight within 90 s ("
                         + c.describe() + "); log: " + log_tail(worker->log()));
    return met;
  };

  // Redis: killed once the worker holds jobs; the jobs it held are counted
  // from PostgreSQL while Redis is down.
  job_census at_redis_kill;
  int redis_finished = -1;
  for (int attempt = 1; attempt <= 3 && busy(redis_finished, "the Redis kill"); ++attempt) {
    redis.kill();
    at_redis_kill = w.census();
    std::this_thread::sleep_for(milliseconds(1500));
    redis.start();
    ++faults;
    redis_finished = at_redis_kill.finished;
    if (at_redis_kill.processing > 0)
      break;
  }
  if (at_redis_kill.processing == 0)
    problems.push_back("no job was in flight when Redis was killed ("
                       + at_redis_kill.describe() + ")");

  // PostgreSQL: restarted once the worker has made progress after the Redis
  // restart and holds jobs again. A job processing both before and after the
  // restart was in flight across it (nothing can finish while the server is
  // down). A second restart follows at once, while the worker reconnects.
  size_t across_pg = 0;
  job_census before_pg;
  for (int attempt = 1; attempt <= 3 && busy(std::max(redis_finished, before_pg.finished),
                                             "the PostgreSQL restart");
       ++attempt) {
    before_pg = w.census();
    pg.restart();
    ++faults;
    job_census after;
    eventually([&] { return (after = w.census()).ok; }, seconds(30));
    for (auto& id : before_pg.processing_ids)
      across_pg += after.processing_ids.count(id);
    if (across_pg > 0)
      break;
  }
  std::this_thread::sleep_for(milliseconds(1000));
  pg.restart();
  ++faults;
  std::cout << "fault suite: restarts: when Redis was killed " << at_redis_kill.describe()
            << "; before the PostgreSQL restart " << before_pg.describe() << ", "
            << across_pg << " job(s) in flight across it\n";
  if (across_pg == 0)
    problems.push_back("no job was in flight across a PostgreSQL restart: the test did not hit"
                       " work in flight");

  bool finished = w.wait_all_finished(seconds(90));
  if (!finished)
    problems.push_back("jobs still unfinished 90 s after the restarts (same worker): "
                       + std::to_string(w.unfinished_jobs()) + "; log: "
                       + log_tail(worker->log()));
  if (!worker->running()) {
    problems.push_back("the worker ended during the outages (" + describe(worker->end())
                       + "): " + log_tail(worker->log()));
  } else {
    worker->signal(SIGTERM);
    if (auto p = unclean_exit(*worker, seconds(40), "SIGTERM after the outages"); !p.empty())
      problems.push_back(p);
  }

  auto drain = w.start_worker("fault-restart-node", {"run", "--drain"}, env);
  if (auto p = unclean_exit(*drain, seconds(120), "run --drain"); !p.empty())
    problems.push_back(p);

  auto r = w.check("redis+postgres-restart");
  r.faults = faults;
  conclude(r, problems, started);
  REQUIRE(r.clean());
}

} // namespace quel::test
