// End-to-end: `quel-worker status --json` lists the mesh's peers from the
// views the nodes write to Redis (docs/DISTRIBUTED.md, docs/OPERATIONS.md).
// Two workers meet on loopback ports; one is SIGKILLed and the other then
// shows it down. The views expire (no key growth) and go with a clean stop.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <functional>
#include <thread>

#include "tests/integration/worker_http_support.hpp"
#include "tests/integration/worker_status_support.hpp"
#include "tests/support/test_redis.hpp"

using namespace quel::test;
using json = nlohmann::json;

namespace {

/// The entry where `observer` describes `peer`; null when there is none.
json peer_entry(const json& doc, const std::string& observer, const std::string& peer) {
  for (auto& p : doc["mesh"]["peers"])
    if (p["observer"] == observer && p["node"] == peer)
      return p;
  return nullptr;
}

std::string state_of(const json& doc, const std::string& observer, const std::string& peer) {
  auto e = peer_entry(doc, observer, peer);
  return e.is_object() && e["state"].is_string() ? e["state"].get<std::string>() : "absent";
}

} // namespace

TEST_CASE("status --json lists mesh peers up, then a killed one down", "[e2e][mesh][status]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto port_a = std::to_string(free_tcp_port());
  auto port_b = std::to_string(free_tcp_port());
  auto env_of = [&](const std::string& node, const std::string& port) {
    return h.worker_env({{"QUEL_NODE_ID", node},
                         {"QUEL_HTTP_ADDR", "off"},
                         {"QUEL_MESH_LISTEN", "127.0.0.1:" + port},
                         {"QUEL_MESH_GRACE", "0.25"}});
  };
  background_worker a({"run"}, env_of("node-a", port_a));
  background_worker b({"run"}, env_of("node-b", port_b));

  json doc;
  bool both_up = eventually([&] {
    doc = status_json(h);
    return state_of(doc, "node-a", "node-b") == "up" && state_of(doc, "node-b", "node-a") == "up";
  });
  INFO("status: " << doc.dump(2) << "\nlog a: " << a.log() << "\nlog b: " << b.log());
  REQUIRE(both_up);
  auto seen_by_a = peer_entry(doc, "node-a", "node-b");
  CHECK(seen_by_a["address"] == "127.0.0.1:" + port_b);
  REQUIRE(seen_by_a["last_seen_seconds_ago"].is_number());
  CHECK(seen_by_a["last_seen_seconds_ago"].get<double>() < 5.0);
  CHECK(seen_by_a["last_seen"].is_string());
  CHECK(seen_by_a["load"].is_null());
  CHECK(doc["mesh"]["nodes"].size() == 2);
  // The views expire like the addresses, so keys of gone nodes never pile up.
  auto ttl = h.redis().pttl("quel:mesh:view:node-a");
  CHECK(ttl > 0);
  CHECK(ttl <= 30000);

  REQUIRE(::kill(b.pid(), SIGKILL) == 0);
  bool down = eventually([&] {
    doc = status_json(h);
    return state_of(doc, "node-a", "node-b") == "down";
  }, std::chrono::seconds{15});
  INFO("after the kill: " << doc.dump(2) << "\nlog a: " << a.log());
  REQUIRE(down);
  auto dead = peer_entry(doc, "node-a", "node-b");
  CHECK(dead["last_seen"].is_string());
  // The killed node was taken over: it is no mesh node any more, and its own
  // (stale) view is gone with it.
  CHECK(doc["mesh"]["nodes"].size() == 1);
  CHECK(state_of(doc, "node-b", "node-a") == "absent");
  CHECK(h.redis().keys("quel:mesh:view:node-b").empty());

  CHECK(a.stop() == 0);
  // A clean stop withdraws the node's view with its address.
  CHECK(h.redis().keys("quel:mesh:view:*").empty());
}
