// End-to-end hostile clients and files (docs/SECURITY.md, "HTTP endpoint" and
// "Paths"): stalled clients cannot starve /healthz, and a FIFO where an input
// object should be fails its job at once and leaves SIGTERM working.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/worker_endpoint_clients.hpp"
#include "tests/integration/worker_checks.hpp"
#include "tests/support/test_redis.hpp"

using namespace quel::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// A /metrics body as series text -> value, checking the exposition format
/// on the way: every sample line is `name{labels} value` of a family that
/// has a TYPE line before it.
std::map<std::string, double> parse_metrics(const std::string& reply) {
  auto body_at = reply.find("\r\n\r\n");
  REQUIRE(body_at != std::string::npos);
  auto text = reply.substr(body_at + 4);
  for (std::string end : {"<closed>", "<reset>"})  // read_until_closed's marks
    if (text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0)
      text.resize(text.size() - end.size());
  std::istringstream body{text};
  std::map<std::string, double> out;
  std::set<std::string> typed;
  std::string line;
  while (std::getline(body, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      auto name = line.substr(7, line.find(' ', 7) - 7);
      typed.insert(name);
      continue;
    }
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    INFO("line: " << line);
    REQUIRE(space != std::string::npos);
    auto series = line.substr(0, space);
    auto name = series.substr(0, series.find('{'));
    REQUIRE(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:")
            == std::string::npos);
    bool known = typed.count(name) > 0;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      auto n = std::string{suffix}.size();
      if (!known && name.size() > n && name.compare(name.size() - n, n, suffix) == 0)
        known = typed.count(name.substr(0, name.size() - n)) > 0;
    }
    CHECK(known);
    if (series.find('{') != std::string::npos)
      CHECK(series.back() == '}');
    CHECK(out.count(series) == 0);
    out[series] = std::stod(line.substr(space + 1));
  }
  return out;
}

/// Sum of the series of `name` (exactly, before any label) whose text
/// holds every one of `labels` (e.g. `outcome="completed"`).
double total(const std::map<std::string, double>& m, const std::string& name,
             const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (auto& [series, v] : m) {
    if (series.substr(0, series.find('{')) != name)
      continue;
    bool all = true;
    for (auto& l : labels)
      all = all && series.find(l) != std::string::npos;
    if (all)
      sum += v;
  }
  return sum;
}

} // namespace

TEST_CASE("/metrics: labelled counters and histogram buckets move as jobs complete",
          "[e2e][http][endpoint][metrics]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(50);
  auto model = h.add_input("inputs/model.png", sample_image("png", 0), org);
  std::vector<std::string> jobs;
  for (int i = 0; i < 2; ++i) {
    auto production = h.db().create_production(org);
    auto input = pipeline_json({stage_json(0, "metrics job " + std::to_string(i), 2,
                                           {attach_entry(std::to_string(model), "model")})});
    jobs.push_back(h.db().create_job(production, org, "pipeline_stage", input));
  }
  endpoint_worker worker(h);
  auto before = parse_metrics(get(worker.port(), "/metrics", 3000ms));
  for (auto& job : jobs)
    h.enqueue(job);

  // The jobs end, and their end is counted (just after the row is written).
  auto until = steady::now() + 60s;
  std::map<std::string, double> after;
  while (steady::now() < until) {
    after = parse_metrics(get(worker.port(), "/metrics", 3000ms));
    if (total(after, "quel_jobs_total", {"outcome=\"completed\""}) >= 2
        && total(after, "quel_queue_depth", {"queue=\"jobs:queue\""}) == 0
        && after.count("quel_queue_depth{queue=\"jobs:queue\"}") > 0)
      break;
    std::this_thread::sleep_for(100ms);
  }
  for (auto& job : jobs)
    CHECK(job_row(h, job)["job_status"] == std::optional<std::string>("completed"));
  auto moved = [&](const std::string& name, const std::vector<std::string>& labels = {}) {
    return total(after, name, labels) - total(before, name, labels);
  };
  INFO(get(worker.port(), "/metrics", 3000ms).substr(0, 12000));
  // Labelled counters: by module and outcome.
  CHECK(moved("quel_jobs_total", {"outcome=\"completed\"", "module=\""}) == 2);
  CHECK(moved("quel_images_total", {"outcome=\"made\""}) == 4);
  CHECK(moved("quel_images_total", {"outcome=\"failed\""}) == 0);
  CHECK(moved("quel_credits_charged_total") == 50 - h.db().org_credit(org));
  CHECK(moved("quel_credits_charged_total") > 0);
  // The old unlabelled names still work.
  CHECK(moved("quel_jobs_completed_total") == 2);
  CHECK(moved("quel_images_made_total") == 4);
  // Histograms: every observation lands in +Inf, in the smaller buckets
  // only when it was that fast, and in _count.
  CHECK(moved("quel_job_duration_seconds_bucket", {"le=\"+Inf\""}) == 2);
  CHECK(moved("quel_job_duration_seconds_count") == 2);
  CHECK(moved("quel_job_duration_seconds_sum") > 0);
  CHECK(moved("quel_image_duration_seconds_bucket", {"outcome=\"made\"", "le=\"+Inf\""})
        == 4);
  CHECK(moved("quel_image_duration_seconds_bucket", {"le=\"600\""}) == 4);
  CHECK(moved("quel_model_call_duration_seconds_count", {"outcome=\"ok\""}) == 4);
  CHECK(moved("quel_storage_call_duration_seconds_count",
              {"operation=\"put\"", "outcome=\"ok\""}) == 4);
  CHECK(moved("quel_storage_call_duration_seconds_count", {"operation=\"get\""}) >= 2);
  // Gauges back at rest; the queue sampler reports the served queue.
  CHECK(after.count("quel_queue_oldest_age_seconds{queue=\"jobs:queue\"}") == 1);
  CHECK(total(after, "quel_jobs_in_flight") == 0);
  CHECK(total(after, "quel_images_in_flight") == 0);
  CHECK(total(after, "quel_credits_held") == 0);
  CHECK(total(after, "quel_ready") == 1);
  // Process metrics and build info.
  CHECK(total(after, "process_resident_memory_bytes") > 1e6);
  CHECK(total(after, "process_cpu_seconds_total") > 0);
  CHECK(total(after, "process_open_fds") > 3);
  CHECK(total(after, "process_threads") > 2);
  CHECK(total(after, "quel_build_info") == 1);
  CHECK(worker.terminate_within(30s));
}

TEST_CASE("/metrics: queue depth and the oldest id's age are sampled per queue",
          "[e2e][http][endpoint][metrics]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  // A job of a module this worker does not serve waits in its queue.
  auto org = h.db().create_org(5);
  auto production = h.db().create_production(org);
  auto waiting = h.db().create_job(production, org, "pipeline_stage",
                                   pipeline_json({stage_json(0, "waits", 1, {})}));
  endpoint_worker worker(h, {{"QUEL_WORKER_MODULES", "fashion"}});
  h.enqueue(waiting, "jobs:queue:beauty");
  h.enqueue("not-a-job-id", "jobs:queue:beauty");  // pushed last: taken last
  std::this_thread::sleep_for(1500ms);  // older than the sampling interval
  auto until = steady::now() + 30s;
  std::map<std::string, double> m;
  while (steady::now() < until) {
    m = parse_metrics(get(worker.port(), "/metrics", 3000ms));
    if (total(m, "quel_queue_depth", {"queue=\"jobs:queue:beauty\""}) == 2)
      break;
    std::this_thread::sleep_for(100ms);
  }
  INFO(get(worker.port(), "/metrics", 3000ms).substr(0, 12000));
  CHECK(total(m, "quel_queue_depth", {"queue=\"jobs:queue:beauty\""}) == 2);
  // The id at the consuming end is the job pushed first: its row's age.
  auto age = total(m, "quel_queue_oldest_age_seconds", {"queue=\"jobs:queue:beauty\""});
  CHECK(age >= 1.0);
  CHECK(age < 60.0);
  CHECK(worker.terminate_within(30s));
}

TEST_CASE("hostile clients cannot starve /healthz", "[e2e][http][endpoint]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  endpoint_worker worker(h);
  const int port = worker.port();
  SECTION("stalled and many clients") {
    // 50 clients send half a request line and stall; 100 more only connect.
    std::vector<int> stalled;
    for (int i = 0; i < 150; ++i) {
      int fd = connect_to(port);
      REQUIRE(fd >= 0);
      if (i < 50)
        (void)!::send(fd, "GET /heal", 9, MSG_NOSIGNAL);
      stalled.push_back(fd);
    }
    for (int round = 0; round < 5; ++round) {
      auto start = steady::now();
      auto reply = get(port, "/healthz", 3000ms);
      auto took = steady::now() - start;
      INFO("round " << round << ": " << reply);
      CHECK(reply.rfind("HTTP/1.1 200 OK", 0) == 0);
      CHECK(reply.find("\r\n\r\nok\n") != std::string::npos);
      CHECK(took < 1000ms);
    }
    auto metrics = get(port, "/metrics", 3000ms);
    CHECK(metrics.rfind("HTTP/1.1 200 OK", 0) == 0);

    // A client that trickles its head is cut off at the header deadline (2 s).
    int slow = connect_to(port);
    REQUIRE(slow >= 0);
    auto start = steady::now();
    bool closed = false;
    for (int i = 0; i < 80 && !closed; ++i) {
      closed = ::send(slow, "X", 1, MSG_NOSIGNAL) < 0;
      pollfd p{slow, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char c;
        closed = ::recv(slow, &c, 1, 0) <= 0;
      }
    }
    CHECK(closed);
    CHECK(steady::now() - start < 4s);
    ::close(slow);
    for (int fd : stalled)
      ::close(fd);
  }
  SECTION("only GET and HEAD of the three paths") {
    CHECK(get(port, "/nope", 2000ms).rfind("HTTP/1.1 404", 0) == 0);
    CHECK(get(port, "/healthz?x=1", 2000ms).rfind("HTTP/1.1 200", 0) == 0);
    int fd = connect_to(port);
    std::string post = "POST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    (void)!::send(fd, post.data(), post.size(), MSG_NOSIGNAL);
    CHECK(read_until_closed(fd, 2000ms).rfind("HTTP/1.1 405", 0) == 0);
    ::close(fd);
    fd = connect_to(port);
    std::string huge = "GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'x');
    (void)!::send(fd, huge.data(), huge.size(), MSG_NOSIGNAL);
    auto reply = read_until_closed(fd, 2000ms);
    CHECK((reply.rfind("HTTP/1.1 431", 0) == 0 || reply == "<reset>"));
    ::close(fd);
  }
  CHECK(worker.terminate_within(30s));
}

TEST_CASE("a FIFO where an input object should be fails the job at once, SIGTERM works",
          "[e2e][paths]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(20);
  auto model = h.add_input("inputs/model.png", sample_image("png", 0), org);
  auto pipe = h.db().create_attach(std::string{"inputs/pipe.png"}, std::nullopt, org);
  h.note_input_row();
  auto fifo = std::filesystem::path(h.storage_dir()) / "images" / "inputs" / "pipe.png";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  auto production = h.db().create_production(org);
  auto input = pipeline_json({stage_json(0, "reads a pipe", 1,
                                         {attach_entry(std::to_string(model), "model"),
                                          attach_entry(std::to_string(pipe), "top")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  endpoint_worker worker(h);
  h.enqueue(job);

  std::optional<std::string> status;
  auto until = steady::now() + 30s;
  while (steady::now() < until) {
    status = job_row(h, job)["job_status"];
    if (status == std::optional<std::string>("failed"))
      break;
    std::this_thread::sleep_for(100ms);
  }
  auto row = job_row(h, job);
  INFO("error_message: " << row["error_message"].value_or("NULL") << "\nlog:\n"
                         << worker.log().substr(0, 4000));
  CHECK(status == std::optional<std::string>("failed"));
  CHECK(row["error_message"].value_or("").find("not a regular file") != std::string::npos);
  CHECK(h.db().org_credit(org) == 20);
  // The /healthz probe still answers, and SIGTERM ends the worker.
  CHECK(get(worker.port(), "/healthz", 2000ms).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(worker.terminate_within(30s));
}
