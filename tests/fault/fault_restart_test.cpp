// Scenario 2: the private Redis (AOF, fsync always, like a production Redis
// with persistence) is SIGKILLed and started again, then the private
// PostgreSQL is restarted (pg_ctl restart -m fast), both while one worker is
// in the middle of its jobs. The same worker must carry on by itself.
#include <signal.h>

#include <chrono>
#include <iostream>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/fault/fault_private_postgres.hpp"
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
  for (int n = 0; n < 24; ++n)
    w.enqueue(w.add_job(n));

  std::vector<std::string> problems;
  int faults = 0;
  const env_map env{{"QUEL_LEASE_TTL", "5"}};
  auto worker = w.start_worker("fault-restart-node", {"run"}, env);

  std::this_thread::sleep_for(milliseconds(1500));
  int before_redis = w.unfinished_jobs();
  redis.kill();
  std::this_thread::sleep_for(milliseconds(1500));
  redis.start();
  ++faults;

  std::this_thread::sleep_for(milliseconds(2000));
  int before_pg = w.unfinished_jobs();
  pg.restart();
  ++faults;
  std::this_thread::sleep_for(milliseconds(1000));
  pg.restart();
  ++faults;
  std::cout << "fault suite: restarts: unfinished jobs before the Redis restart "
            << before_redis << ", before the PostgreSQL restarts " << before_pg << "\n";
  if (before_pg == 0)
    problems.push_back("every job had finished before PostgreSQL restarted: the test "
                       "did not hit work in flight (make it longer)");

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
