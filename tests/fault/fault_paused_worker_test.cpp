// Scenario 4: two workers share the queues; one is paused with SIGSTOP past
// its lease, the other takes its ids and jobs over; the paused one resumes
// (a zombie holding stale epochs) and both drain.
#include <signal.h>

#include <chrono>
#include <iostream>
#include <set>
#include <utility>
#include <thread>

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "adapters/postgres/pg_connection.hpp"
#include "tests/fault/fault_wait.hpp"
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

/// Jobs `node` holds: claimed by it (it owns the lease row) and not finished.
std::set<std::string> jobs_held_by(const std::string& url, const std::string& node) {
  pqxx::connection c{pg_connection::with_connect_timeout(url)};
  pqxx::nontransaction tx{c};
  std::set<std::string> ids;
  for (auto row : tx.exec_params("SELECT job_id::text FROM quel_worker_job w"
                                 "  JOIN quel_production_jobs j USING (job_id)"
                                 " WHERE w.owner_node = $1 AND j.job_status = 'processing'",
                                 node))
    ids.insert(row[0].as<std::string>());
  return ids;
}

/// How many of `ids` `node` has claimed (owns the lease row of), and how
/// many of them are finished or claimed by `node`.
std::pair<int, int> claimed_by(const std::string& url, const std::set<std::string>& ids,
                               const std::string& node) {
  pqxx::connection c{pg_connection::with_connect_timeout(url)};
  pqxx::nontransaction tx{c};
  std::string list = "{";
  for (auto& id : ids)
    list += (list.size() > 1 ? "," : "") + id;
  list += "}";
  auto row = tx.exec_params1("SELECT count(*) FILTER (WHERE w.owner_node = $2),"
                             "       count(*) FILTER (WHERE w.owner_node = $2"
                             "                         OR j.job_status <> 'processing')"
                             "  FROM quel_worker_job w JOIN quel_production_jobs j USING (job_id)"
                             " WHERE w.job_id = ANY($1::uuid[])",
                             list, node);
  return {row[0].as<int>(), row[1].as<int>()};
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

  // Slow jobs (each image sleeps 500 ms in the model; max_jobs 10 on two
  // generator threads per worker: six jobs at once), so that node-a still holds jobs when it
  // is paused whatever the machine's speed; the pause itself waits for that.
  const env_map env{{"QUEL_LEASE_TTL", "2"},
                    {"QUEL_GENERATOR_LOCAL_LATENCY_MS", "500"},
                    {"QUEL_WORKER_MAX_JOBS", "10"}};
  auto a = w.start_worker("fault-node-a", {"run", "--drain"}, env);
  auto b = w.start_worker("fault-node-b", {"run", "--drain"}, env);
  std::vector<std::string> problems;

  // Paused while it holds jobs: counted after SIGSTOP, when node-a can no
  // longer start or finish any; if it had just finished them all, it resumes
  // and the pause is tried again.
  std::set<std::string> held_at_pause;
  for (int attempt = 1; attempt <= 3 && held_at_pause.empty(); ++attempt) {
    // A few jobs (of the six it may hold), so that more than one is taken over.
    bool holds = eventually(
      [&] { return !a->running() || jobs_held_by(w.database_url(), "fault-node-a").size() >= 3; },
      seconds(90));
    REQUIRE(holds);
    REQUIRE(a->running());
    a->signal(SIGSTOP);
    held_at_pause = jobs_held_by(w.database_url(), "fault-node-a");
    if (held_at_pause.empty())
      a->signal(SIGCONT);
  }
  // Past the 2 s lease node-b's reaper must take node-a's ids back and claim
  // its jobs with a new epoch: wait (bounded) until every job node-a held is
  // node-b's or finished (one may have been committing at the pause).
  int taken_over = 0;
  if (!held_at_pause.empty())
    eventually([&] {
      auto [claimed, settled] = claimed_by(w.database_url(), held_at_pause, "fault-node-b");
      taken_over = claimed;
      return settled == static_cast<int>(held_at_pause.size());
    }, seconds(60));
  a->signal(SIGCONT);
  std::cout << "fault suite: paused: jobs held by node-a at the pause " << held_at_pause.size()
            << ", of which node-b claimed " << taken_over << " before node-a resumed\n";
  if (held_at_pause.empty())
    problems.push_back("node-a held no job when it was paused (3 tries): nothing to take over");
  else if (taken_over == 0)
    problems.push_back("node-b claimed none of node-a's jobs within 60 s while node-a was"
                       " paused");

  for (auto* p : {a.get(), b.get()})
    if (auto problem = unclean_exit(*p, seconds(120), p->log_path()); !problem.empty())
      problems.push_back(problem);
  auto log_a = a->log();
  auto log_b = b->log();
  std::cout << "fault suite: paused: node-b took back expired ids "
            << occurrences(log_b, "Took back ids of an expired node") << " time(s); node-a saw "
            << occurrences(log_a, "ease lost") << " lost-lease line(s) after resuming\n";

  auto r = w.check("paused-worker");
  r.faults = 1;
  conclude(r, problems, started);
  REQUIRE(r.clean());
}

} // namespace quel::test
