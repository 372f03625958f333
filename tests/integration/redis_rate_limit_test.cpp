// The fleet-wide model rate limit's GCRA script (adapters/redis/
// rate_limit.cpp) against a real Redis: slots an interval apart whoever
// asks, the key's clean-up, and two connections (two nodes) sharing it.
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "adapters/redis/redis_queue.hpp"
#include "tests/support/test_redis.hpp"

using namespace std::chrono_literals;
using quel::redis_endpoint;
using quel::redis_queue;
using quel::test::test_redis;

namespace {

const std::string key = "quel:ratelimit:test";

redis_queue make_queue() {
  return redis_queue(redis_endpoint::parse(quel::test::test_redis_url()));
}

} // namespace

TEST_CASE("the GCRA reserves slots one interval apart", "[redis][ratelimit]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  // The first call goes at once; the next ones wait 1, 2, 3 intervals
  // (less the few ms the calls themselves take).
  std::vector<int64_t> waits;
  for (int i = 0; i < 4; ++i)
    waits.push_back(q.reserve_rate_slot(key, 1000ms).count());
  INFO("waits: " << waits[0] << " " << waits[1] << " " << waits[2] << " " << waits[3]);
  CHECK(waits[0] == 0);
  for (int i = 1; i < 4; ++i) {
    CHECK(waits[i] <= 1000 * i);
    CHECK(waits[i] > 1000 * i - 100);
  }
  // The key holds the next free slot (4 intervals on) and expires a second
  // after it: an idle limiter leaves nothing behind.
  auto ttl = std::stoll(r.command({"PTTL", key}));
  CHECK(ttl > 4000);
  CHECK(ttl <= 5000);
}

TEST_CASE("an idle limiter lets the next call through at once", "[redis][ratelimit]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  CHECK(q.reserve_rate_slot(key, 100ms).count() == 0);
  CHECK(q.reserve_rate_slot(key, 100ms).count() > 50);
  std::this_thread::sleep_for(250ms);  // both slots are past
  CHECK(q.reserve_rate_slot(key, 100ms).count() == 0);
}

TEST_CASE("two connections share one limit", "[redis][ratelimit]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto a = make_queue();
  auto b = make_queue();
  // 20 calls from two "nodes" at once get 20 distinct slots 50 ms apart:
  // the largest wait is 19 intervals.
  std::vector<int64_t> waits;
  for (int i = 0; i < 10; ++i) {
    waits.push_back(a.reserve_rate_slot(key, 50ms).count());
    waits.push_back(b.reserve_rate_slot(key, 50ms).count());
  }
  std::sort(waits.begin(), waits.end());
  CHECK(waits.front() == 0);
  CHECK(waits.back() > 19 * 50 - 100);
  CHECK(waits.back() <= 19 * 50);
  for (size_t i = 1; i < waits.size(); ++i)
    CHECK(waits[i] - waits[i - 1] > 0);
}
