// The mesh's Redis keys: advertised addresses and the election of one taker.
#include <chrono>

#include <catch2/catch.hpp>

#include "adapters/redis/redis_queue.hpp"
#include "tests/support/test_redis.hpp"

using namespace std::chrono_literals;
using quel::redis_endpoint;
using quel::redis_queue;
using quel::test::test_redis;
using election = quel::redis_queue::election;

namespace {

redis_queue make_queue() {
  return redis_queue(redis_endpoint::parse(quel::test::test_redis_url()));
}

} // namespace

TEST_CASE("advertised nodes are listed with their addresses until they leave",
          "[redis][mesh]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  q.advertise_mesh("node-b", "10.0.0.2:7400", 10s);
  q.advertise_mesh("node-a", "10.0.0.1:7400", 10s);
  auto nodes = q.mesh_nodes();
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0] == std::make_pair(std::string{"node-a"}, std::string{"10.0.0.1:7400"}));
  q.leave_mesh("node-a");
  nodes = q.mesh_nodes();
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].first == "node-b");
}

TEST_CASE("of two survivors only one is elected taker of a dead node", "[redis][mesh]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto a = make_queue();
  auto b = make_queue();
  a.advertise_mesh("node-dead", "10.0.0.9:7400", 10s);
  a.renew_node_lease("node-dead", 10s);
  CHECK(a.elect_taker("node-dead", "node-a", 10s) == election::won);
  CHECK(b.elect_taker("node-dead", "node-b", 10s) == election::lost);
  a.forget_mesh_node("node-dead");
  // Treated as expired by the reaper, and no longer a peer.
  CHECK_FALSE(a.node_alive("node-dead"));
  CHECK(a.mesh_nodes().empty());
}

TEST_CASE("of the two sides of a split only the first takes the other over", "[redis][mesh]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  q.advertise_mesh("node-a", "10.0.0.1:7400", 10s);
  q.advertise_mesh("node-b", "10.0.0.2:7400", 10s);
  CHECK(q.elect_taker("node-b", "node-a", 10s) == election::won);
  CHECK(q.elect_taker("node-a", "node-b", 10s) == election::self_taken_over);
  // Once node-b is healthy again (it greeted a peer) its mark goes.
  q.clear_takeover_mark("node-b");
  CHECK(q.elect_taker("node-a", "node-b", 10s) == election::won);
}

TEST_CASE("a node that left cleanly is not taken over", "[redis][mesh]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  q.advertise_mesh("node-b", "10.0.0.2:7400", 10s);
  q.leave_mesh("node-b");
  CHECK(q.elect_taker("node-b", "node-a", 10s) == election::gone);
}

TEST_CASE("a node's view of its peers is replaced whole, expires, and goes with the node",
          "[redis][mesh][status]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  q.publish_mesh_view("node-a", {{"node-b", R"({"state":"up"})"}, {"node-c", R"({"state":"down"})"}},
                      10s);
  auto view = q.mesh_view("node-a");
  REQUIRE(view.size() == 2);
  CHECK(view["node-b"] == R"({"state":"up"})");
  auto ttl = r.pttl("quel:mesh:view:node-a");
  CHECK(ttl > 0);
  CHECK(ttl <= 10000);
  // A peer that is no longer in the view drops out of the hash.
  q.publish_mesh_view("node-a", {{"node-b", R"({"state":"suspected"})"}}, 10s);
  view = q.mesh_view("node-a");
  REQUIRE(view.size() == 1);
  CHECK(view["node-b"] == R"({"state":"suspected"})");
  // No peers: no key at all.
  q.publish_mesh_view("node-a", {}, 10s);
  CHECK(r.keys("quel:mesh:view:*").empty());
  CHECK(q.mesh_view("node-a").empty());
  // A clean stop and a takeover both remove the view.
  q.publish_mesh_view("node-a", {{"node-b", "{}"}}, 10s);
  q.publish_mesh_view("node-b", {{"node-a", "{}"}}, 10s);
  q.leave_mesh("node-a");
  q.forget_mesh_node("node-b");
  CHECK(r.keys("quel:mesh:view:*").empty());
}

TEST_CASE("a worker's view of its generator nodes is replaced whole, listed, expires, and goes "
          "with a clean stop",
          "[redis][mesh][status][generator_nodes]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  q.publish_generator_view("worker-b", {{"10.0.0.21:7500", R"({"state":"up"})"}}, 10s);
  q.publish_generator_view("worker-a", {{"10.0.0.21:7500", R"({"state":"up"})"},
                                        {"10.0.0.22:7500", R"({"state":"connecting"})"}},
                           10s);
  auto views = q.generator_views();
  REQUIRE(views.size() == 2);
  CHECK(views[0].first == "worker-a");  // sorted by worker
  CHECK(views[0].second.size() == 2);
  CHECK(views[1].second.at("10.0.0.21:7500") == R"({"state":"up"})");
  auto ttl = r.pttl("quel:mesh:generators:worker-a");
  CHECK(ttl > 0);
  CHECK(ttl <= 10000);
  // The set of writers expires too, so nothing outlives the workers.
  CHECK(r.pttl("quel:mesh:generator_views") > 0);
  // Replaced whole: a node no longer in the view drops out.
  q.publish_generator_view("worker-a", {{"10.0.0.22:7500", R"({"state":"up"})"}}, 10s);
  views = q.generator_views();
  REQUIRE(views.size() == 2);
  CHECK(views[0].second.size() == 1);
  CHECK(views[0].second.count("10.0.0.22:7500") == 1);
  // A view that expired (here: one that is gone) is dropped from the set.
  r.command({"DEL", "quel:mesh:generators:worker-b"});
  views = q.generator_views();
  REQUIRE(views.size() == 1);
  CHECK(views[0].first == "worker-a");
  // A clean stop removes the view and the worker from the set.
  q.withdraw_generator_view("worker-a");
  CHECK(q.generator_views().empty());
  CHECK(r.keys("quel:mesh:*").empty());
}
