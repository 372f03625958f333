// The end of a worker process (actors/shutdown_wait.hpp): how long it waits
// for its last actors, and that a detached actor stuck in a blocking call
// cannot hold it past that limit.
#include <catch2/catch.hpp>

#include <thread>

#include <caf/all.hpp>

#include "actors/shutdown_wait.hpp"

using namespace quel;
using namespace std::chrono_literals;

namespace {

const steady_time t0{};

} // namespace

TEST_CASE("after SIGTERM the last actors are awaited until the deadline plus grace",
          "[shutdown]") {
  // Jobs handed back at the deadline (t0 + 2 s), settled 150 ms later.
  CHECK(actors_wait_limit(t0, t0 + 2150ms, 2s, 1s, 300ms) == t0 + 2450ms);
  // Jobs finished early: a call left running is awaited until the deadline,
  // never longer.
  CHECK(actors_wait_limit(t0, t0 + 500ms, 2s, 1s, 300ms) == t0 + 2300ms);
  // A deadline shorter than a take: the taker's last BLMOVE is awaited.
  CHECK(actors_wait_limit(t0, t0 + 100ms, 0ms, 1s, 300ms) == t0 + 1300ms);
}

TEST_CASE("a drained worker awaits its takers' last take plus grace", "[shutdown]") {
  CHECK(actors_wait_limit(std::nullopt, t0 + 5s, 25s, 1s, 300ms) == t0 + 6300ms);
}

TEST_CASE("actors that end are awaited to the end", "[shutdown]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto quick = sys.spawn<caf::detached>([]() -> caf::behavior {
    return {[](int32_t x) { return x; }};
  });
  caf::anon_send_exit(quick, caf::exit_reason::user_shutdown);
  CHECK(await_actors_until(sys, std::chrono::steady_clock::now() + 5s));
}

TEST_CASE("an actor stuck in a blocking call is given up at the limit", "[shutdown]") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto stuck = sys.spawn<caf::detached>([]() -> caf::behavior {
    return {[](int32_t x) {
      std::this_thread::sleep_for(1500ms);
      return x;
    }};
  });
  caf::anon_send(stuck, int32_t{1});
  caf::anon_send_exit(stuck, caf::exit_reason::user_shutdown);
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(await_actors_until(sys, start + 200ms));
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= 200ms);
  CHECK(waited < 1000ms);
  // Here the call ends on its own; ~actor_system then waits for it.
}
