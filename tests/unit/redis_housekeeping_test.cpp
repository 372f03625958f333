// The housekeeping pass (adapters/redis/housekeeping.cpp) on the in-memory
// port: lease renewal, the reaper of expired nodes, the report.
#include <catch2/catch.hpp>

#include "adapters/redis/housekeeping.hpp"
#include "fake_queue_store.hpp"

using namespace quel;
using namespace quel::test;
using namespace std::chrono_literals;

namespace {

const std::string q1 = "jobs:queue";
const std::string q2 = "jobs:queue:cinema";

housekeeping_request request(bool reclaim_own = false) {
  return housekeeping_request{"me", 3000, {q1, q2}, reclaim_own};
}

/// `node` takes `n` ids off `queue` into its processing list, as a taker does.
void take(fake_queue_store& redis, const std::string& node, const std::string& queue,
          int n) {
  for (int i = 0; i < n; ++i)
    REQUIRE(redis.take(queue, redis_keys::processing(node, queue), 0ms));
}

} // namespace

TEST_CASE("housekeeping returns an expired node's ids in their order and forgets it",
          "[redis][reaper]") {
  fake_queue_store redis;
  for (auto id : {"a", "b", "c"})
    redis.push(q1, id);
  redis.push(q2, "x");
  redis.renew_node_lease("dead", 1000ms);
  take(redis, "dead", q1, 2);  // a, then b
  take(redis, "dead", q2, 1);
  redis.advance(1500ms);       // the lease ran out: no renewal since

  auto report = run_housekeeping(redis, request());

  CHECK(report.reclaimed == 3);
  CHECK(redis.at(redis_keys::processing("dead", q1)).empty());
  CHECK(redis.at(redis_keys::processing("dead", q2)).empty());
  CHECK(redis.known_nodes() == std::vector<std::string>{"me"});
  CHECK(report.queued == 4);
  // Taken again in the order first taken, before the id still waiting.
  std::vector<std::string> order;
  while (auto id = redis.take(q1, "elsewhere", 0ms))
    order.push_back(*id);
  CHECK(order == std::vector<std::string>{"a", "b", "c"});
  CHECK(redis.at(q2) == fake_queue_store::list{"x"});
}

TEST_CASE("housekeeping leaves a live node's ids alone and counts them",
          "[redis][reaper]") {
  fake_queue_store redis;
  for (auto id : {"a", "b", "c"})
    redis.push(q1, id);
  redis.renew_node_lease("other", 5000ms);
  take(redis, "other", q1, 2);
  redis.advance(1000ms);

  auto report = run_housekeeping(redis, request());

  CHECK(report.reclaimed == 0);
  CHECK(report.foreign_processing == 2);
  CHECK(report.queued == 1);
  CHECK(redis.length(redis_keys::processing("other", q1)) == 2);
  CHECK(redis.known_nodes() == std::vector<std::string>{"me", "other"});
}

TEST_CASE("housekeeping renews this node's lease and never reaps itself",
          "[redis][reaper]") {
  fake_queue_store redis;
  redis.push(q1, "a");
  take(redis, "me", q1, 1);
  redis.renew_node_lease("me", 1000ms);
  redis.advance(2000ms);  // our own lease expired (a long pause)
  CHECK_FALSE(redis.node_alive("me"));

  auto report = run_housekeeping(redis, request());

  CHECK(redis.node_alive("me"));
  redis.advance(2999ms);
  CHECK(redis.node_alive("me"));
  redis.advance(1ms);
  CHECK_FALSE(redis.node_alive("me"));
  CHECK(report.reclaimed == 0);
  CHECK(redis.at(redis_keys::processing("me", q1)) == fake_queue_store::list{"a"});
  CHECK(report.own_processing == 1);
  using entry = std::pair<std::string, std::string>;
  CHECK(report.own_ids == std::vector<entry>{{q1, "a"}});
}

TEST_CASE("housekeeping at start-up takes back this node's own leftovers",
          "[redis][reaper]") {
  fake_queue_store redis;
  for (auto id : {"a", "b"})
    redis.push(q1, id);
  redis.push(q2, "x");
  take(redis, "me", q1, 2);
  take(redis, "me", q2, 1);

  auto report = run_housekeeping(redis, request(true));

  CHECK(report.reclaimed == 3);
  CHECK(report.own_processing == 0);
  CHECK(report.own_ids.empty());
  CHECK(report.queued == 3);
  // The consuming end is the back: a, taken first, is taken first again.
  CHECK(redis.at(q1) == fake_queue_store::list{"b", "a"});
}

TEST_CASE("housekeeping in a Redis outage throws for the caller to retry",
          "[redis][reaper]") {
  fake_queue_store redis;
  redis.down = true;
  CHECK_THROWS_AS(run_housekeeping(redis, request()), redis_unavailable);
}
