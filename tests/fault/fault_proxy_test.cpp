// Scenario 3: a TCP proxy between the worker and Redis and another between
// the worker and PostgreSQL cut, stall and delay the connections in bounded
// phases while one worker runs; then everything passes again. Each phase
// starts only once the worker holds jobs (a bounded wait, never a sleep that
// assumes the machine's speed).
#include <signal.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/fault/fault_tcp_proxy.hpp"
#include "tests/fault/fault_world.hpp"

namespace quel::test {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

/// host:port of a redis:// or postgresql:// URL, and the URL with another port.
struct url_parts {
  std::string prefix;  // scheme://[userinfo@]
  std::string host;
  int port = 0;
  std::string rest;    // /db?params
  std::string with_port(int p) const {
    return prefix + host + ":" + std::to_string(p) + rest;
  }
};

url_parts split_url(const std::string& url) {
  static const std::regex re{R"(^([a-z]+://(?:[^@/]*@)?)([^:/@]+):(\d+)(.*)$)"};
  std::smatch m;
  INFO("url " << url);
  REQUIRE(std::regex_match(url, m, re));
  return {m[1], m[2], std::stoi(m[3]), m[4]};
}

} // namespace

TEST_CASE("TCP proxy cuts, stalls and delays Redis and PostgreSQL connections", "[fault]") {
  QUEL_REQUIRE_TEST_DATABASE();
  QUEL_REQUIRE_TEST_REDIS();
  auto started = std::chrono::steady_clock::now();
  fault_world w{"proxy", "", ""};
  auto redis_url = split_url(w.redis_url());
  auto pg_url = split_url(w.database_url());
  tcp_proxy redis_proxy{redis_url.host, redis_url.port, w.log_path("redis-proxy")};
  tcp_proxy pg_proxy{pg_url.host, pg_url.port, w.log_path("pg-proxy")};

  w.create_orgs(2, 100000);
  w.create_inputs(3);

  // Work must be in flight when each fault starts, however fast or slow the
  // machine is. So jobs are slow (each image sleeps 500 ms in the model; with
  // max_jobs 10 (each of the four idle modules' takers holds a slot, six are
  // left for these jobs) on two generator threads a job takes seconds), the test keeps `outstanding` jobs unfinished by
  // enqueueing more as jobs finish, and before each phase it waits (bounded)
  // until the worker holds jobs and more wait in the queues. The fault is
  // then started, and the jobs in flight are counted from PostgreSQL directly
  // while it is in force.
  constexpr int outstanding = 9;
  constexpr int job_limit = 150;
  const env_map env{{"QUEL_LEASE_TTL", "6"},
                    {"QUEL_GENERATOR_LOCAL_LATENCY_MS", "500"},
                    {"QUEL_WORKER_MAX_JOBS", "10"},
                    {"QUEL_REDIS_URL", redis_url.with_port(redis_proxy.port())},
                    {"QUEL_DATABASE_URL", pg_url.with_port(pg_proxy.port())}};
  const std::string node = "fault-proxy-node";
  auto worker = w.start_worker(node, {"run"}, env);
  std::vector<std::string> problems;
  int faults = 0;
  int finished_at_heal = -1;  // jobs finished when the last fault ended
  bool aborted = false;

  // Each phase is bounded; the worker must ride through all of them.
  auto phase = [&](const std::string& what, const std::function<void()>& start,
                   milliseconds length) {
    if (aborted)
      return;
    job_census in_force;
    for (int attempt = 1;; ++attempt) {
      // The worker made progress since the last fault healed, holds at least
      // two jobs, and at least one more waits for it.
      bool met = false;
      auto before = w.keep_busy_until(
        outstanding, job_limit,
        [&](const job_census& c) {
          return !worker->running()
                 || (c.finished > finished_at_heal && c.processing >= 2 && c.waiting >= 1);
        },
        seconds(90), met);
      if (!met || !worker->running()) {
        problems.push_back("before phase " + what + ": no progress with work in flight within"
                           " 90 s (" + before.describe() + ", " + std::to_string(w.jobs().size())
                           + " jobs added); log: " + log_tail(worker->log()));
        aborted = true;
        return;
      }
      start();
      in_force = w.census();
      if (in_force.ok && in_force.processing > 0)
        break;
      // Every job it held finished in the instant between the check and the
      // fault: heal and try again, with new work.
      redis_proxy.pass();
      pg_proxy.pass();
      if (attempt == 3) {
        problems.push_back("phase " + what + ": no job in flight when the fault started, 3"
                           " times (" + in_force.describe() + ")");
        aborted = true;
        return;
      }
    }
    ++faults;
    std::this_thread::sleep_for(length);
    redis_proxy.pass();
    pg_proxy.pass();
    auto healed = w.census();
    finished_at_heal = healed.ok ? healed.finished : in_force.finished;
    std::cout << "fault suite: proxy phase " << what << " done; at its start "
              << in_force.describe() << "\n";
  };
  phase("redis cut", [&] { redis_proxy.cut(); }, milliseconds(2000));
  phase("redis stall", [&] { redis_proxy.stall(); }, milliseconds(2500));
  phase("redis delay 150 ms", [&] { redis_proxy.delay(150); }, milliseconds(2000));
  phase("postgres cut", [&] { pg_proxy.cut(); }, milliseconds(2000));
  phase("postgres stall", [&] { pg_proxy.stall(); }, milliseconds(2500));
  phase("postgres delay 150 ms", [&] { pg_proxy.delay(150); }, milliseconds(2000));
  phase("both cut", [&] { redis_proxy.cut(); pg_proxy.cut(); }, milliseconds(2000));
  std::cout << "fault suite: proxy: " << w.jobs().size()
            << " jobs; connections through the proxies: redis " << redis_proxy.connections()
            << ", postgres " << pg_proxy.connections() << "\n";

  bool finished = w.wait_all_finished(seconds(90));
  if (!finished)
    problems.push_back("jobs still unfinished 90 s after the proxy phases: "
                       + std::to_string(w.unfinished_jobs()) + "; log: "
                       + log_tail(worker->log()));
  if (!worker->running()) {
    problems.push_back("the worker ended during the network faults ("
                       + describe(worker->end()) + "): " + log_tail(worker->log()));
  } else {
    worker->signal(SIGTERM);
    auto end = worker->wait_for(seconds(40));
    if (!end || !end->exited || end->code != 0)
      problems.push_back("SIGTERM after the network faults: "
                         + (end ? describe(*end) : "still running") + ": "
                         + log_tail(worker->log()));
  }
  auto drain = w.start_worker(node, {"run", "--drain"});
  if (auto problem = unclean_exit(*drain, seconds(120), "run --drain"); !problem.empty())
    problems.push_back(problem);

  auto r = w.check("tcp-proxy-faults");
  r.faults = faults;
  conclude(r, problems, started);
  REQUIRE(r.clean());
}

} // namespace quel::test
