// Hostile-input table (docs/SECURITY.md section 8), rows C* and E*: hostile
// configuration and hostile clients of the HTTP endpoint, against the real
// worker binary with real Redis and PostgreSQL.
//  - C*: `run --drain` with one bad setting each, a job waiting on the queue.
//    Each ends with exit code 2 and a message naming the key, before any
//    server is touched: the job's id stays on jobs:queue, no processing list
//    appears, nothing is claimed. A run with good settings then completes it.
//  - E*: one `run` worker whose endpoint is held by hostile clients while
//    /healthz keeps answering and a job queued meanwhile completes; SIGTERM
//    then ends it cleanly.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/worker_endpoint_clients.hpp"
#include "tests/integration/worker_hostile_checks.hpp"

using namespace quel::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

struct config_row {
  std::string row;  // table row id, as in docs/SECURITY.md
  std::string name;
  env_map env;
  std::vector<std::string> args;
  std::string names;  // what the message must name (the key, or the problem)
};

std::vector<config_row> config_rows(const std::string& dir) {
  auto fifo = dir + "/fifo.ini";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto bad_value = dir + "/bad-value.ini";
  std::ofstream(bad_value) << "[limits]\nmax_image_pixels = 50000000 # fifty megapixels\n";
  return {
    {"C1", "duration with a unit", {{"QUEL_LEASE_TTL", "30s"}}, {}, "worker.lease_ttl"},
    {"C2", "duration 1e300 (overflows milliseconds)", {{"QUEL_LEASE_TTL", "1e300"}}, {},
     "worker.lease_ttl"},
    {"C3", "number out of range (0 jobs)", {{"QUEL_WORKER_MAX_JOBS", "0"}}, {},
     "worker.max_jobs"},
    {"C4", "number beyond int64", {{"QUEL_LIMITS_MAX_IMAGE_PIXELS", "99999999999999999999"}},
     {}, "limits.max_image_pixels"},
    {"C5", "number with an exponent", {{"QUEL_LIMITS_MAX_JOB_INPUT_BYTES", "1e6"}}, {},
     "limits.max_job_input_bytes"},
    {"C6", "negative number", {{"QUEL_RETRY_CAP_MS", "-1"}}, {}, "retry.cap_ms"},
    {"C7", "number with a leading space", {{"QUEL_MAX_INFLIGHT_IMAGES", " 4"}}, {},
     "worker.max_inflight_images"},
    {"C8", "duration inf", {{"QUEL_STORAGE_TIMEOUT", "inf"}}, {}, "storage.timeout"},
    {"C9", "port 70000", {{"QUEL_HTTP_ADDR", "127.0.0.1:70000"}}, {}, "http.addr"},
    {"C10", "port with trailing garbage", {{"QUEL_HTTP_ADDR", "127.0.0.1:80x"}}, {},
     "http.addr"},
    {"C11", "Redis port 65536", {{"QUEL_REDIS_URL", "redis://127.0.0.1:65536/0"}}, {},
     "redis.url"},
    {"C12", "fraction 1e-1", {{"QUEL_FAULTS_CRASH_PROBABILITY", "1e-1"}}, {},
     "faults.crash_probability"},
    {"C13", "node id forging a log line", {{"QUEL_NODE_ID", "n1\n2026-01-01T00:00:00Z info"}},
     {}, "worker.node_id"},
    {"C14", "unknown log format", {{"QUEL_LOG_FORMAT", "xml"}}, {}, "log.format"},
    {"C15", "option with trailing garbage", {}, {"--worker.take_timeout=1;"},
     "worker.take_timeout"},
    {"C16", "directory as the config path", {}, {"--config=" + dir}, "not a regular file"},
    {"C17", "FIFO as the config path", {{"QUEL_CONFIG", fifo}}, {}, "not a regular file"},
    {"C18", "comment after a value in the file", {}, {"--config=" + bad_value},
     "limits.max_image_pixels"},
    {"C19", "directory as the modules file", {{"QUEL_WORKER_MODULES_FILE", dir}}, {},
     "modules file " + dir + " is not a regular file"},
    // Found by the config_values fuzz target: "-0" passed as 0.
    {"C21", "negative zero", {{"QUEL_LIMITS_MAX_INPUTS", "-0"}}, {}, "limits.max_inputs"},
    {"C20", "device as the modules file", {{"QUEL_WORKER_MODULES_FILE", "/dev/zero"}}, {},
     "modules file /dev/zero is not a regular file"},
  };
}

/// A raw client of the endpoint: what it sends, and whether it then stalls
/// holding the connection (the server must cut it off or answer it).
struct client_row {
  std::string row;
  std::string name;
  int connections;
  std::string sends;
  // The reply expected on the first of them within 3 s (prefix), or "" for
  // "cut off or left waiting, whichever; only /healthz matters".
  std::string reply_prefix;
};

std::vector<client_row> client_rows() {
  std::string many_headers;
  for (int i = 0; i < 2000; ++i)
    many_headers += "X-" + std::to_string(i) + ": y\r\n";
  return {
    {"E1", "connections that send nothing", 100, "", ""},
    {"E2", "half a request line, then silence", 50, "GET /heal", ""},
    {"E3", "head of 20 KB in one header", 1,
     "GET /healthz HTTP/1.1\r\nX: " + std::string(20000, 'x'), "HTTP/1.1 431"},
    {"E4", "2000 small headers", 1, "GET /healthz HTTP/1.1\r\n" + many_headers + "\r\n",
     "HTTP/1.1 431"},
    {"E5", "path of 100 KB", 1, "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\n\r\n",
     "HTTP/1.1 431"},
    {"E6", "binary garbage", 1, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 16),
     ""},
    {"E7", "POST claiming 10 GB of body", 1,
     "POST /healthz HTTP/1.1\r\nContent-Length: 10737418240\r\n\r\n", "HTTP/1.1 405"},
  };
}

} // namespace

TEST_CASE("hostile configuration stops the worker naming the key, nothing taken",
          "[e2e][config][hostile]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto model = h.add_input("inputs/model.png", sample_image("png", 0));
  auto org = h.db().create_org(20);
  auto production = h.db().create_production(org);
  auto job = h.db().create_job(production, org, "pipeline_stage",
                               pipeline_json({stage_json(0, "waits for a good config", 1,
                                                         {attach_entry(std::to_string(model),
                                                                       "model")})}));
  h.enqueue(job);
  auto dir = make_temp_dir("quel-hostile-config");
  for (auto& r : config_rows(dir)) {
    INFO("row " << r.row << ": " << r.name);
    std::vector<std::string> args{"run", "--drain"};
    args.insert(args.end(), r.args.begin(), r.args.end());
    auto started = steady::now();
    auto run = h.run_worker(args, r.env, std::chrono::seconds{30});
    INFO("stderr: " << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find("configuration error") != std::string::npos);
    CHECK(run.err.find(r.names) != std::string::npos);
    CHECK(steady::now() - started < 10s);
    check_log_lines_safe(run.err, 8192, {"2026-01-01T00:00:00Z"});
    // Refused before anything is taken: the id waits where it was.
    CHECK(h.redis().lrange("jobs:queue") == std::vector<std::string>{job});
    CHECK(h.non_empty_lists() == std::vector<std::string>{"jobs:queue"});
    CHECK(job_row(h, job)["job_status"] == std::optional<std::string>{"pending"});
  }
  h.drain();
  check_completed(h, {job, org, production, {}, {{0, 1}}, 1, 20});
  check_row_invariants(h, job, org, 20);
  check_lists_empty(h);
}

TEST_CASE("hostile endpoint clients: /healthz answers and jobs complete meanwhile",
          "[e2e][endpoint][hostile]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto model = h.add_input("inputs/model.png", sample_image("png", 0));
  endpoint_worker worker(h);
  const int port = worker.port();

  std::vector<int> held;
  for (auto& r : client_rows()) {
    INFO("row " << r.row << ": " << r.name);
    for (int i = 0; i < r.connections; ++i) {
      int fd = connect_to(port);
      REQUIRE(fd >= 0);
      if (!r.sends.empty())
        (void)!::send(fd, r.sends.data(), r.sends.size(), MSG_NOSIGNAL);
      if (i == 0 && !r.reply_prefix.empty()) {
        auto reply = read_until_closed(fd, 3000ms);
        INFO("reply: " << reply.substr(0, 200));
        // A head too large may also be cut by a reset before the 431 is read.
        CHECK((reply.rfind(r.reply_prefix, 0) == 0 || reply == "<reset>"));
      }
      held.push_back(fd);
    }
  }
  // A slow loris: one byte every 100 ms is cut off at the 2 s head deadline.
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
  INFO("row E8: one byte every 100 ms");
  CHECK(closed);
  CHECK(steady::now() - start < 4s);
  ::close(slow);

  // With every hostile connection still open: a job queued now completes and
  // /healthz answers within a second each time.
  auto org = h.db().create_org(20);
  auto production = h.db().create_production(org);
  auto job = h.db().create_job(production, org, "pipeline_stage",
                               pipeline_json({stage_json(0, "made while clients stall", 1,
                                                         {attach_entry(std::to_string(model),
                                                                       "model")})}));
  h.enqueue(job);
  for (int round = 0; round < 5; ++round) {
    auto t0 = steady::now();
    auto reply = get(port, "/healthz", 3000ms);
    INFO("round " << round << ": " << reply);
    CHECK(reply.rfind("HTTP/1.1 200 OK", 0) == 0);
    CHECK(steady::now() - t0 < 1000ms);
  }
  CHECK(get(port, "/metrics", 3000ms).rfind("HTTP/1.1 200 OK", 0) == 0);
  auto until = steady::now() + 30s;
  while (steady::now() < until
         && job_row(h, job)["job_status"] != std::optional<std::string>{"completed"})
    std::this_thread::sleep_for(100ms);
  for (int fd : held)
    ::close(fd);
  CHECK(worker.running());
  CHECK(worker.terminate_within(30s));
  INFO("worker log tail:\n" << log_tail(worker.log(), 3000));
  check_completed(h, {job, org, production, {}, {{0, 1}}, 1, 20});
  check_row_invariants(h, job, org, 20);
  check_lists_empty(h);
  check_log_lines_safe(worker.log(), 8192, {});
}
