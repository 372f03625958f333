// Scenario 4: two workers share the queues; one is paused with SIGSTOP past
// its lease, the other takes its ids and jobs over; the paused one resumes
// (a zombie holding stale epochs) and both drain.
#include <signal.h>

#include <chrono>
#include <iostream>
#include <thread>

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "adapters/postgres/pg_connection.hpp"
#include "tests/fault/fault_world.hpp"

namespace quel::test {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

int jobs_owned_by(const std::string& url, const std::string& node) {
  pqxx::connection c{pg_connection::with_connect_timeout(url)};
  pqxx::nontransaction tx{c};
  return tx.exec_params1("SELECT count(*) FROM quel_worker_job WHERE owner_node = $1",
                         node)[0].as<int>();
}

} // namespace

TEST_CASE("a worker paused past its lease is fenced out and the other takes over",
          "[fault]") {
  QUEL_REQUIRE_TEST_DATABASE();
  QUEL_REQUIRE_TEST_REDIS();
  auto started = std::chrono::steady_clock::now();
  fault_world w{"paused", "", ""};
  w.create_orgs(3, 100000);
  w.create_inputs(4);
  for (int n = 0; n < 30; ++n)
    w.enqueue(w.add_job(n));

  const env_map env{{"QUEL_LEASE_TTL", "2"}};
  auto a = w.start_worker("fault-node-a", {"run", "--drain"}, env);
  auto b = w.start_worker("fault-node-b", {"run", "--drain"}, env);
  std::vector<std::string> problems;

  std::this_thread::sleep_for(milliseconds(1500));
  REQUIRE(a->running());
  a->signal(SIGSTOP);
  int a_jobs_at_pause = jobs_owned_by(w.database_url(), "fault-node-a");
  // Well past the 2 s lease: node-b's reaper must take node-a's ids back and
  // claim its jobs with a new epoch.
  std::this_thread::sleep_for(milliseconds(6000));
  int a_jobs_after = jobs_owned_by(w.database_url(), "fault-node-a");
  a->signal(SIGCONT);
  std::cout << "fault suite: paused: jobs owned by node-a at the pause " << a_jobs_at_pause
            << ", after 6 s " << a_jobs_after << "\n";
  if (a_jobs_at_pause == 0)
    problems.push_back("node-a owned no job when it was paused: nothing to take over");

  for (auto* p : {a.get(), b.get()})
    if (auto problem = unclean_exit(*p, seconds(120), p->log_path()); !problem.empty())
      problems.push_back(problem);
  auto log_a = a->log();
  auto log_b = b->log();
  std::cout << "fault suite: paused: node-b took back expired ids "
            << occurrences(log_b, "Took back ids of an expired node") << " time(s); node-a saw "
            << occurrences(log_a, "ease lost") << " lost-lease line(s) after resuming\n";
  if (log_b.find("Took back ids of an expired node") == std::string::npos
      && a_jobs_at_pause > 0 && a_jobs_after >= a_jobs_at_pause)
    problems.push_back("node-b did not take over node-a's work while node-a was paused");

  auto r = w.check("paused-worker");
  r.faults = 1;
  conclude(r, problems, started);
  REQUIRE(r.clean());
}

} // namespace quel::test
