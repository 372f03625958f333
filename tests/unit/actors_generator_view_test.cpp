// The generator router's view of its nodes as `status` shows it
// (generator_view, docs/DISTRIBUTED.md "Generator nodes in status"): which
// state a node is in and which error goes with it.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "actors/generator_router_actor.hpp"

using namespace quel;
using json = nlohmann::json;

namespace {

json entry(const generator_router_state& st, const std::string& address) {
  auto view = generator_view(st);
  REQUIRE(view.count(address) == 1);
  return json::parse(view.at(address));
}

} // namespace

TEST_CASE("a generator node's state and error in the router's view", "[generator_nodes][status]") {
  generator_router_state st;
  router_node n;
  n.address = "10.0.0.21:7500";
  st.nodes.push_back(n);
  auto& node = st.nodes.back();

  auto e = entry(st, n.address);
  CHECK(e["state"] == "connecting");
  CHECK(e["node"].is_null());
  CHECK(e["error"].is_null());
  CHECK(e["last_reply_ms"].is_null());
  CHECK(e["capacity"].is_null());  // unknown until its first hello
  CHECK(e["load"].is_null());

  // Lost after it was up: down with the reason, until the reconnect fails.
  node.was_up = true;
  node.node_id = "gen-1";
  node.capacity = 4;
  node.load = 2;
  node.redispatched = 3;
  node.lost_reason = "remote_link_unreachable";
  node.last_reply = std::chrono::system_clock::time_point{std::chrono::milliseconds{1234}};
  e = entry(st, n.address);
  CHECK(e["state"] == "down");
  CHECK(e["error"] == "remote_link_unreachable");
  CHECK(e["node"] == "gen-1");
  CHECK(e["capacity"] == 4);
  CHECK(e["load"] == 2);
  CHECK(e["in_flight"] == 0);
  CHECK(e["redispatched"] == 3);
  CHECK(e["last_reply_ms"] == 1234);

  node.last_problem = "system_error(disconnect_during_handshake)";
  e = entry(st, n.address);
  CHECK(e["state"] == "unreachable");
  CHECK(e["error"] == "system_error(disconnect_during_handshake)");

  node.refused = true;
  node.last_problem = "mesh protocol version mismatch";
  CHECK(entry(st, n.address)["state"] == "refused");
  CHECK(generator_node_state(node) == "refused");
}
