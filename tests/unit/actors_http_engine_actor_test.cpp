// The HTTP engine actor: typed requests answered from the curl loop, 2,000
// transfers in flight on the actor's one thread.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/http_engine_actor.hpp"
#include "tests/standins/standin_process.hpp"
#include "tests/support/process_env.hpp"

using namespace quel;
using namespace std::chrono_literals;
using quel::test::standin_process;
using json = nlohmann::json;

namespace {

http_request get(const std::string& url) {
  http_request r;
  r.url = url;
  r.total_timeout = 60s;
  return r;
}

http_response ask(caf::scoped_actor& self, const http_engine_actor& engine,
                  http_request request) {
  http_response out;
  self->request(engine, 120s, http_atom::value, std::move(request))
    .receive([&](http_response& r) { out = std::move(r); },
             [&](caf::error& e) { FAIL("engine actor failed: " << caf::to_string(e)); });
  return out;
}

struct tally {
  int finished = 0;
  int ok = 0;
  int peak_threads = 0;
};

} // namespace

TEST_CASE("engine actor: a request is answered with the transfer's response",
          "[actors][http]") {
  standin_process server("supabase_standin.py", {});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto engine = sys.spawn<caf::detached>(http_engine_actor_impl, http_engine_options{});
  caf::scoped_actor self{sys};

  auto r = ask(self, engine, get(server.base_url() + "/__echo?status=207"));
  CHECK(r.failure == http_failure::none);
  CHECK(r.status == 207);
  CHECK(json::parse(r.body)["method"] == "GET");

  // A refused connection is a failure inside the response, not an error.
  auto refused = ask(self, engine, get("http://127.0.0.1:9/"));
  CHECK(refused.failure == http_failure::network);

  // Idle again between requests: the next one is still served.
  std::this_thread::sleep_for(50ms);
  CHECK(ask(self, engine, get(server.base_url() + "/__echo")).status == 200);
  caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
}

TEST_CASE("engine actor: 2,000 slow requests in flight on no extra thread",
          "[actors][http][concurrency]") {
  constexpr int total = 2000;
  standin_process server("supabase_standin.py", {"--latency-ms", "500"});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto engine = sys.spawn<caf::detached>(http_engine_actor_impl, http_engine_options{});
  caf::scoped_actor self{sys};
  // One request first: the engine's thread and libcurl are up.
  ask(self, engine, get(server.base_url() + "/__echo"));
  int before = test::thread_count("self");

  auto t = std::make_shared<tally>();
  auto url = server.base_url() + "/storage/v1/object/images/missing.png";
  auto started = std::chrono::steady_clock::now();
  // Requests from an event-based actor: all sent at once, answered as the
  // transfers finish.
  auto client = sys.spawn([=](caf::event_based_actor* c) -> caf::behavior {
    for (int i = 0; i < total; ++i) {
      auto req = get(url);
      req.headers = {{"apikey", "k"}};
      c->request(engine, caf::infinite, http_atom::value, std::move(req))
        .then([=](const http_response& r) {
          t->peak_threads = std::max(t->peak_threads, test::thread_count("self"));
          if (r.failure == http_failure::none && r.status == 400)
            ++t->ok;
          if (++t->finished == total)
            c->quit();
        });
    }
    return {[](int) {}};
  });
  self->monitor(client);
  bool done = false;
  self->receive([&](const caf::down_msg&) { done = true; },
                caf::after(std::chrono::seconds(120)) >> [] {});
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - started);
  auto stats = json::parse(ask(self, engine, get(server.base_url() + "/__stats")).body);
  WARN(total << " requests through the engine actor (500 ms latency) took " << took.count()
             << " ms; threads before " << before << ", peak " << t->peak_threads
             << "; stand-in peak concurrent " << stats["peak_concurrent"]);
  REQUIRE(done);
  CHECK(t->finished == total);
  CHECK(t->ok == total);
  CHECK(t->peak_threads <= before);
  CHECK(stats["total"] == total);
  // The single-threaded stand-in accepts connections more slowly than the
  // engine opens them; most of them still overlap at the server.
  CHECK(stats["peak_concurrent"].get<int>() >= total / 2);
  caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
}
