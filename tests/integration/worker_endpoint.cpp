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
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/worker_endpoint_clients.hpp"
#include "tests/integration/worker_checks.hpp"
#include "tests/support/test_redis.hpp"

using namespace quel::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

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
