// End-to-end: `quel-worker status` lists the generator nodes a worker routes
// its model calls to (mesh.generators), from the view the worker's router
// writes to Redis (quel:mesh:generators:<worker>, docs/DISTRIBUTED.md
// "Watching the mesh"). A real `serve-generator` child on loopback and a
// worker without mesh.listen (the router exists without it): the node is up
// with its capacity; after its SIGKILL it is down or unreachable with the
// error. The view expires when its worker is killed and goes with a clean
// stop.
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

/// The entry where worker `observer` describes the generator node at
/// `address`; null when there is none.
json generator_entry(const json& doc, const std::string& observer, const std::string& address) {
  for (auto& g : doc["mesh"]["generators"])
    if (g["observer"] == observer && g["address"] == address)
      return g;
  return nullptr;
}

std::string state_of(const json& doc, const std::string& observer, const std::string& address) {
  auto e = generator_entry(doc, observer, address);
  return e.is_object() && e["state"].is_string() ? e["state"].get<std::string>() : "absent";
}

} // namespace

TEST_CASE("status lists a worker's generator nodes up with capacity, then a killed one down",
          "[e2e][mesh][status][generator_nodes]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto address = "127.0.0.1:" + std::to_string(free_tcp_port());
  auto dir = make_temp_dir("quel-gen-status");
  auto node_env = environment_without_quel();
  node_env["QUEL_GENERATOR"] = "local";
  node_env["QUEL_GENERATOR_CONCURRENCY"] = "3";
  node_env["QUEL_HTTP_ADDR"] = "off";
  node_env["QUEL_NODE_ID"] = "gen-status";
  node_env["QUEL_MESH_LISTEN"] = address;
  child_process node({worker_binary(), "serve-generator"}, node_env,
                     dir + "/serve-generator.log");
  auto worker_env = [&](const std::string& id) {
    // No mesh.listen: the router exists with mesh.generators alone. A short
    // lease TTL, so that the view of a killed worker expires within the test.
    return h.worker_env({{"QUEL_NODE_ID", id},
                         {"QUEL_HTTP_ADDR", "off"},
                         {"QUEL_LEASE_TTL", "3"},
                         {"QUEL_MESH_GENERATORS", address}});
  };
  background_worker w({"run"}, worker_env("gen-user"));

  json doc;
  bool up = eventually([&] {
    doc = status_json(h);
    return state_of(doc, "gen-user", address) == "up";
  });
  INFO("status: " << doc.dump(2) << "\nworker log: " << w.log());
  REQUIRE(up);
  auto e = generator_entry(doc, "gen-user", address);
  CHECK(e["node"] == "gen-status");
  CHECK(e["capacity"] == 3);
  CHECK(e["in_flight"] == 0);
  CHECK(e["load"] == 0);
  CHECK(e["error"].is_null());
  REQUIRE(e["last_reply_seconds_ago"].is_number());
  CHECK(e["last_reply_seconds_ago"].get<double>() < 5.0);
  CHECK(e["last_reply"].is_string());
  // No mesh.listen: the worker is no mesh node, yet its generators show.
  CHECK(doc["mesh"]["nodes"].empty());
  auto ttl = h.redis().pttl("quel:mesh:generators:gen-user");
  CHECK(ttl > 0);
  CHECK(ttl <= 3000);
  auto text = h.run_worker({"status"}, {}, std::chrono::seconds{30});
  INFO("status text: " << text.out);
  CHECK(text.out.find("generator node") != std::string::npos);
  CHECK(text.out.find(address) != std::string::npos);

  node.kill_now();
  bool lost = eventually([&] {
    doc = status_json(h);
    auto s = state_of(doc, "gen-user", address);
    return s == "down" || s == "unreachable";
  }, std::chrono::seconds{15});
  INFO("after the kill: " << doc.dump(2) << "\nworker log: " << w.log());
  REQUIRE(lost);
  // The reconnect fails at once (nothing listens), with the error shown.
  REQUIRE(eventually([&] {
    doc = status_json(h);
    return state_of(doc, "gen-user", address) == "unreachable";
  }, std::chrono::seconds{10}));
  e = generator_entry(doc, "gen-user", address);
  CHECK(e["error"].is_string());
  CHECK(e["node"] == "gen-status");  // known from before
  CHECK(e["last_reply"].is_string());

  // A killed worker's view expires after worker.lease_ttl.
  REQUIRE(::kill(w.pid(), SIGKILL) == 0);
  bool expired = eventually([&] {
    return h.redis().keys("quel:mesh:generators:gen-user").empty();
  }, std::chrono::seconds{10});
  CHECK(expired);
  doc = status_json(h);
  CHECK(doc["mesh"]["generators"].empty());

  // A clean stop deletes the view at once.
  background_worker clean({"run"}, worker_env("gen-clean"));
  REQUIRE(eventually([&] {
    return !h.redis().keys("quel:mesh:generators:gen-clean").empty();
  }));
  CHECK(clean.stop() == 0);
  CHECK(h.redis().keys("quel:mesh:generators:*").empty());
  CHECK(h.redis().keys("quel:mesh:generator_views").empty());
}
