#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/gemini/gemini_codec.hpp"
#include "adapters/http/http_engine.hpp"
#include "tests/standins/engine_sync.hpp"
#include "tests/standins/standin_process.hpp"

using namespace quel;
using namespace std::chrono_literals;
using json = nlohmann::json;
using quel::test::run_sync;
using quel::test::standin_process;

namespace {

standin_process& echo_server() {
  static standin_process server("gemini_standin.py", {"--key", "test-key"});
  return server;
}

http_request get(const std::string& path_and_query) {
  http_request r;
  r.url = echo_server().base_url() + path_and_query;
  return r;
}

/// The ids of this process's threads.
std::set<std::string> thread_ids() {
  std::set<std::string> ids;
  DIR* dir = opendir("/proc/self/task");
  REQUIRE(dir != nullptr);
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.')
      ids.insert(e->d_name);
  closedir(dir);
  return ids;
}

/// A loopback port that nothing listens on (bound, then released).
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

} // namespace

TEST_CASE("engine: status, headers and body round trip", "[http][engine]") {
  http_engine engine;
  auto req = get("/__echo?status=201");
  req.method = "POST";
  req.headers = {{"X-Test", "value 1"}, {"Content-Type", "text/plain"}};
  req.body = blob(std::string("hello \0 world", 13));
  auto r = run_sync(engine, req);
  REQUIRE(r.failure == http_failure::none);
  CHECK(r.status == 201);
  CHECK(r.ok());
  CHECK(header_value(r.headers, "content-type") == "application/json; charset=UTF-8");
  auto echo = json::parse(r.body);
  CHECK(echo["method"] == "POST");
  CHECK(echo["headers"]["x-test"] == "value 1");
  CHECK(echo["body"].get<std::string>() == std::string("hello \0 world", 13));
  CHECK(engine.in_flight() == 0);
}

TEST_CASE("engine: an HTTP error status is not a transfer failure", "[http][engine]") {
  http_engine engine;
  auto r = run_sync(engine, get("/__echo?status=503"));
  CHECK(r.failure == http_failure::none);
  CHECK(r.status == 503);
  CHECK_FALSE(r.ok());
}

TEST_CASE("engine: PUT, DELETE and HEAD use their methods", "[http][engine]") {
  http_engine engine;
  for (std::string method : {"PUT", "DELETE"}) {
    auto req = get("/__echo");
    req.method = method;
    if (method == "PUT")
      req.body = blob(std::string("payload"));
    auto echo = json::parse(run_sync(engine, req).body);
    CHECK(echo["method"] == method);
    CHECK(echo["body"] == (method == "PUT" ? "payload" : ""));
  }
  auto head = get("/__blob?bytes=1000");
  head.method = "HEAD";
  auto r = run_sync(engine, head);
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  CHECK(header_value(r.headers, "Content-Length") == "1000");
}

TEST_CASE("engine: the total timeout ends a slow transfer", "[http][engine]") {
  http_engine engine;
  auto req = get("/__echo?delay_ms=5000");
  req.total_timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto r = run_sync(engine, req);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.failure == http_failure::timeout);
  CHECK_FALSE(r.error.empty());
  CHECK(took >= 250ms);
  CHECK(took < 3s);
}

TEST_CASE("engine: the size cap applies to Content-Length", "[http][engine]") {
  http_engine engine;
  auto req = get("/__blob?bytes=200000");
  req.max_response_bytes = 100000;
  auto r = run_sync(engine, req);
  CHECK(r.failure == http_failure::too_large);
  CHECK(r.body.empty());
  CHECK(r.error.find("100000") != std::string::npos);
}

TEST_CASE("engine: the size cap aborts a chunked body while receiving", "[http][engine]") {
  http_engine engine;
  auto req = get("/__blob?bytes=3000000&chunked=1");
  req.max_response_bytes = 100000;
  auto r = run_sync(engine, req);
  CHECK(r.failure == http_failure::too_large);
  CHECK(r.body.empty());

  auto fits = get("/__blob?bytes=99000&chunked=1");
  fits.max_response_bytes = 100000;
  auto ok = run_sync(engine, fits);
  CHECK(ok.failure == http_failure::none);
  CHECK(ok.body.size() == 99000);
}

TEST_CASE("engine: a refused connection is a network failure", "[http][engine]") {
  http_engine engine;
  http_request req;
  req.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto r = run_sync(engine, req);
  CHECK(r.failure == http_failure::network);
  CHECK(r.status == 0);
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("engine: keep-alive reuses one connection", "[http][engine]") {
  http_engine engine;
  standin_process server("gemini_standin.py", {});
  for (int i = 0; i < 20; ++i) {
    http_request r;
    r.url = server.base_url() + "/__echo";
    REQUIRE(run_sync(engine, r).status == 200);
  }
  http_request stats;
  stats.url = server.base_url() + "/__stats";
  auto s = json::parse(run_sync(engine, stats).body);
  CHECK(s["connections"] == 1);
}

TEST_CASE("engine: cancel ends transfers with failure::cancelled", "[http][engine]") {
  http_engine engine;
  std::vector<http_failure> results;
  auto slow = get("/__echo?delay_ms=10000");
  auto id = engine.submit(slow, [&](http_response&& r) { results.push_back(r.failure); });
  engine.run_once(50ms);
  engine.cancel(id);
  engine.run_once(50ms);
  REQUIRE(results.size() == 1);
  CHECK(results[0] == http_failure::cancelled);

  for (int i = 0; i < 5; ++i)
    engine.submit(slow, [&](http_response&& r) { results.push_back(r.failure); });
  engine.run_once(50ms);
  engine.cancel_all();
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (results.size() < 6 && std::chrono::steady_clock::now() < deadline)
    engine.run_once(50ms);
  REQUIRE(results.size() == 6);
  for (auto f : results)
    CHECK(f == http_failure::cancelled);
  CHECK(engine.in_flight() == 0);
}

TEST_CASE("engine: submit from other threads while the loop runs", "[http][engine]") {
  http_engine engine;
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  std::atomic<int> good{0};
  std::thread loop([&] { engine.run_until(stop); });
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t)
    producers.emplace_back([&] {
      for (int i = 0; i < 25; ++i)
        engine.submit(get("/__echo?status=200"), [&](http_response&& r) {
          if (r.status == 200)
            ++good;
          ++done;
        });
    });
  for (auto& p : producers)
    p.join();
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (done < 100 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  stop = true;
  engine.wakeup();
  loop.join();
  CHECK(done == 100);
  CHECK(good == 100);
}

TEST_CASE("engine: callbacks may submit follow-up requests", "[http][engine]") {
  http_engine engine;
  int finished = 0;
  std::function<void(http_response&&)> chain = [&](http_response&& r) {
    REQUIRE(r.status == 200);
    if (++finished < 5)
      engine.submit(get("/__echo"), chain);
  };
  engine.submit(get("/__echo"), chain);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (finished < 5 && std::chrono::steady_clock::now() < deadline)
    engine.run_once(100ms);
  CHECK(finished == 5);
}

TEST_CASE("engine: 2,000 slow requests at once, on no extra thread",
          "[http][engine][concurrency]") {
  constexpr int total = 2000;
  standin_process server("gemini_standin.py", {"--key", "k", "--latency-ms", "500"});
  gemini_settings settings;
  settings.base_url = server.base_url();
  settings.api_key = "k";
  settings.timeout = 60s;
  generation_request request;
  request.prompt = "a red square";

  http_engine engine;
  auto before = thread_ids();
  int images = 0;
  int finished = 0;
  std::set<std::string> seen_during;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < total; ++i)
    engine.submit(make_gemini_request(settings, request), [&](http_response&& r) {
      ++finished;
      if (classify_response(r).kind == gemini_result::image)
        ++images;
    });
  while (finished < total && std::chrono::steady_clock::now() - start < 120s) {
    engine.run_once(50ms);
    for (auto& id : thread_ids())
      seen_during.insert(id);
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start);
  WARN("2000 concurrent Gemini requests (500 ms server latency) took " << took.count()
       << " ms; threads before " << before.size() << ", seen during "
       << seen_during.size());
  CHECK(finished == total);
  CHECK(images == total);
  // No thread was started for the transfers: every thread seen while they
  // ran already existed before.
  for (auto& id : seen_during)
    CHECK(before.count(id) == 1);
  CHECK(seen_during.size() == before.size());

  http_request stats;
  stats.url = server.base_url() + "/__stats";
  auto s = json::parse(run_sync(engine, stats).body);
  CHECK(s["total"] == total);
  // The server had most of them open at the same time.
  INFO("peak concurrent requests at the stand-in: " << s["peak_concurrent"]);
  CHECK(s["peak_concurrent"].get<int>() >= total / 2);
}

TEST_CASE("engine: dot segments of a path are sent as they are", "[http][engine][paths]") {
  // A one-shot server that records the request line: libcurl squashes
  // "/./" and "/../" unless told not to, which would turn one storage key
  // into another's path.
  int lsock = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(lsock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(lsock, 1) == 0);
  socklen_t len = sizeof addr;
  getsockname(lsock, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string request_line;
  std::thread server([&] {
    int c = accept(lsock, nullptr, nullptr);
    std::string head;
    char buf[1024];
    while (head.find("\r\n\r\n") == std::string::npos) {
      auto n = read(c, buf, sizeof buf);
      if (n <= 0)
        break;
      head.append(buf, static_cast<size_t>(n));
    }
    request_line = head.substr(0, head.find("\r\n"));
    std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!write(c, reply.data(), reply.size());
    close(c);
  });
  http_engine engine;
  http_request req;
  req.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))
            + "/storage/v1/object/images/a/./b/../c.png";
  auto r = run_sync(engine, req);
  server.join();
  close(lsock);
  CHECK(r.status == 200);
  CHECK(request_line == "GET /storage/v1/object/images/a/./b/../c.png HTTP/1.1");
}
