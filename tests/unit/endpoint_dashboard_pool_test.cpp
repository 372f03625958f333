// The dashboard's API requests run on the endpoint's api_pool: while every
// API thread is stuck (a PostgreSQL query that hangs, a slow thumbnail),
// /healthz still answers at once, requests beyond the pool's queue are
// refused with 503 instead of piling up, and the stuck ones get their reply
// when their thread is free.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "actors/worker_metrics.hpp"
#include "app/api_pool.hpp"
#include "app/dashboard_api.hpp"
#include "app/http_endpoint.hpp"

using namespace quel;
using namespace std::chrono_literals;

namespace {

/// One request on a fresh connection; the whole response ("" on failure).
std::string get(int port, const std::string& line, const std::string& host = "localhost") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "";
  }
  auto req = line + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

} // namespace

TEST_CASE("dashboard pool: /healthz answers while every API thread is stuck") {
  auto metrics = std::make_shared<worker_metrics>();
  std::atomic<bool> release{false};
  std::atomic<int> started{0};
  // Two threads, one waiting request at most: a handler that blocks like a
  // hung query until released.
  auto pool = std::make_unique<api_pool>(2, 1, [&]() -> api_pool::handler {
    return [&](const std::string&) {
      ++started;
      while (!release)
        std::this_thread::sleep_for(5ms);
      return render_reply(web_reply{200, "application/json", "{\"done\":true}", "no-store"},
                          false);
    };
  });
  http_endpoint endpoint{"127.0.0.1:0", metrics, http_endpoint_limits{}, std::move(pool)};
  // A failed REQUIRE below must not leave the handlers stuck (the pool's
  // destructor would wait for them for ever).
  struct release_at_exit {
    std::atomic<bool>& flag;
    ~release_at_exit() { flag = true; }
  } guard{release};
  int port = endpoint.port();
  REQUIRE(port > 0);

  // One at a time, so that each is taken by a thread before the next comes
  // (a request counts against max_queued until a thread takes it).
  auto wait_started = [&](int n) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (started < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return started == n;
  };
  auto first = std::async(std::launch::async, [&] { return get(port, "GET /api/overview"); });
  REQUIRE(wait_started(1));
  auto second = std::async(std::launch::async, [&] { return get(port, "GET /api/jobs"); });
  REQUIRE(wait_started(2));
  auto third = std::async(std::launch::async, [&] { return get(port, "GET /api/dead"); });
  std::this_thread::sleep_for(200ms);  // the third waits in the queue

  // Both threads busy, the queue full: health at once, a fourth API
  // request refused at once, the page itself served.
  auto t0 = std::chrono::steady_clock::now();
  auto health = get(port, "GET /healthz");
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(health.rfind("HTTP/1.1 200 ", 0) == 0);
  CHECK(took < 500ms);
  auto refused = get(port, "GET /api/overview");
  CHECK(refused.rfind("HTTP/1.1 503 ", 0) == 0);
  CHECK(get(port, "GET /").rfind("HTTP/1.1 200 ", 0) == 0);
  // A foreign host name (DNS rebinding) is refused; probes are not checked.
  CHECK(get(port, "GET /", "evil.example").rfind("HTTP/1.1 403 ", 0) == 0);
  CHECK(get(port, "GET /api/jobs", "evil.example:1").rfind("HTTP/1.1 403 ", 0) == 0);
  CHECK(get(port, "GET /healthz", "evil.example").rfind("HTTP/1.1 200 ", 0) == 0);

  release = true;
  for (auto* f : {&first, &second, &third}) {
    auto reply = f->get();
    CHECK(reply.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(reply.find("{\"done\":true}") != std::string::npos);
  }
}

TEST_CASE("dashboard pool: without a pool /api is not found and nothing blocks") {
  auto metrics = std::make_shared<worker_metrics>();
  http_endpoint endpoint{"127.0.0.1:0", metrics};
  CHECK(get(endpoint.port(), "GET /api/overview").rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(get(endpoint.port(), "GET /healthz").rfind("HTTP/1.1 200 ", 0) == 0);
}
