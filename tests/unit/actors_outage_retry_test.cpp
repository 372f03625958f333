// Waiting out a server outage on a detached actor's thread: the waits come
// from outage_backoff (jittered, each at most 5 s), and a hard shutdown ends
// the wait.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "actors/outage_retry.hpp"

using namespace quel;
using namespace std::chrono_literals;

namespace {

struct server_down : std::runtime_error {
  server_down() : std::runtime_error("connection refused") {}
};

} // namespace

TEST_CASE("an outage is waited out with the outage backoff", "[actors][outage]") {
  std::atomic<bool> up{true};
  std::atomic<bool> give_up{false};
  int calls = 0;
  auto start = std::chrono::steady_clock::now();
  auto result = retry_through_outage<server_down>("test server", up, give_up, [&] {
    if (++calls <= 3)
      throw server_down();
    return 42;
  });
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(result == 42);
  CHECK(calls == 4);
  CHECK(up);
  // Three waits, each at most its ceiling: 100 + 200 + 400 ms.
  CHECK(took < 700ms + 500ms);
}

TEST_CASE("a hard shutdown ends the wait with the outage's exception", "[actors][outage]") {
  std::atomic<bool> up{true};
  std::atomic<bool> give_up{false};
  int calls = 0;
  auto fail = [&]() -> int {
    if (++calls == 2)
      give_up = true;
    throw server_down();
  };
  CHECK_THROWS_AS(retry_through_outage<server_down>("test server", up, give_up, fail),
                  server_down);
  CHECK(calls == 2);
  CHECK_FALSE(up);
}
