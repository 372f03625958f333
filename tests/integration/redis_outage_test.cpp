#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/redis/redis_queue.hpp"
#include "tests/support/test_redis.hpp"

// Each test runs its own redis-server (redis_server_process) so that it can
// kill it without disturbing the shared test server.

using namespace std::chrono_literals;
using quel::redis_endpoint;
using quel::redis_keys;
using quel::redis_queue;
using quel::redis_unavailable;
using quel::test::redis_server_process;
using quel::test::test_redis;

namespace {

const std::string queue = "jobs:queue";
const std::string processing = redis_keys::processing("node-a", queue);

} // namespace

TEST_CASE("nothing listening: calls throw redis_unavailable", "[redis][outage]") {
  redis_queue q(redis_endpoint::parse("redis://127.0.0.1:" +
                                      std::to_string(quel::test::free_tcp_port()) + "/0"));
  CHECK_THROWS_AS(q.push(queue, "x"), redis_unavailable);
  CHECK_THROWS_AS(q.take(queue, processing, 100ms), redis_unavailable);
  CHECK_FALSE(q.ping());
}

TEST_CASE("server killed mid-use: redis_unavailable, then the next call works",
          "[redis][outage]") {
  redis_server_process server;
  redis_queue q(redis_endpoint::parse(server.url()));
  q.push(queue, "before");
  REQUIRE(q.take(queue, processing, 1s) == std::optional<std::string>("before"));

  server.kill();
  CHECK_THROWS_AS(q.push(queue, "during"), redis_unavailable);
  // Still down: every call fails the same way, none hangs or crashes.
  CHECK_THROWS_AS(q.length(queue), redis_unavailable);
  CHECK_THROWS_AS(q.take(queue, processing, 200ms), redis_unavailable);
  CHECK_FALSE(q.ping());

  server.start();  // same port; the killed server kept nothing (no persistence)
  q.push(queue, "after");
  CHECK(q.length(queue) == 1);
  auto id = q.take(queue, processing, 1s);
  REQUIRE(id);
  CHECK(*id == "after");
  CHECK(q.range(processing) == std::vector<std::string>{"after"});
}

TEST_CASE("server restarted between calls: the stale connection is replaced",
          "[redis][outage]") {
  redis_server_process server;
  redis_queue q(redis_endpoint::parse(server.url(2)));  // SELECT must be redone
  q.push(queue, "one");
  server.kill();
  server.start();
  // The old context is dead; the first call notices (EOF) and throws, or
  // already reconnects. Either way the one after it must work.
  try {
    q.push(queue, "two");
  } catch (const redis_unavailable&) {
    q.push(queue, "two");
  }
  test_redis db2(server.url(2));
  CHECK(db2.lrange(queue).back() == "two");
  CHECK(db2.llen(queue) >= 1);
  test_redis db0(server.url(0));
  CHECK(db0.llen(queue) == 0);
}

TEST_CASE("a blocked take notices the server dying at once", "[redis][outage]") {
  redis_server_process server;
  auto url = server.url();
  auto blocked = std::async(std::launch::async, [url] {
    redis_queue q(redis_endpoint::parse(url));
    auto start = std::chrono::steady_clock::now();
    try {
      q.take(queue, processing, 10s);
    } catch (const redis_unavailable&) {
      return std::chrono::steady_clock::now() - start;
    }
    return std::chrono::steady_clock::duration::max();
  });
  std::this_thread::sleep_for(300ms);
  server.kill();
  REQUIRE(blocked.wait_for(5s) == std::future_status::ready);
  auto took = blocked.get();
  INFO("take returned after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                              << " ms");
  CHECK(took < 5s);  // an exception, well before the 10 s wait ends
}

TEST_CASE("a silent server: the socket timeout turns a hang into redis_unavailable",
          "[redis][outage]") {
  redis_server_process server({"--enable-debug-command", "yes"});
  quel::redis_timeouts t;
  t.io = 300ms;
  t.blocking_margin = 300ms;
  redis_queue q(redis_endpoint::parse(server.url()), t);
  q.push(queue, "x");
  // DEBUG SLEEP stalls the server longer than the socket timeout.
  test_redis admin(server.url());
  auto stall = std::async(std::launch::async,
                          [&admin] { admin.command({"DEBUG", "SLEEP", "1.5"}); });
  std::this_thread::sleep_for(100ms);
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(q.length(queue), redis_unavailable);
  CHECK(std::chrono::steady_clock::now() - start < 1200ms);
  stall.get();
  CHECK(q.length(queue) == 1);  // a fresh connection after the stall
}
