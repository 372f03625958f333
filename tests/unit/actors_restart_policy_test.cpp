#include <catch2/catch.hpp>

#include "actors/restart_policy.hpp"

using namespace quel;
using ms = std::chrono::milliseconds;

TEST_CASE("restart delays grow exponentially up to the cap, with full jitter",
          "[actors][policy]") {
  restart_policy p{5, ms(1000), ms(60000)};
  auto top = [] { return 0.999999; };
  auto bottom = [] { return 0.0; };
  CHECK(p.next_delay(0, top)->count() == 999);
  CHECK(p.next_delay(1, top)->count() == 1999);
  CHECK(p.next_delay(2, top)->count() == 3999);
  CHECK(p.next_delay(4, top)->count() == 15999);
  CHECK(p.next_delay(3, bottom)->count() == 0);  // full jitter reaches 0
  restart_policy capped{40, ms(1000), ms(60000)};
  CHECK(capped.next_delay(30, top)->count() == 59999);
}

TEST_CASE("the policy gives up after its restart limit", "[actors][policy]") {
  restart_policy p{2, ms(100), ms(1000)};
  auto half = [] { return 0.5; };
  CHECK(p.next_delay(0, half));
  CHECK(p.next_delay(1, half));
  CHECK_FALSE(p.next_delay(2, half));
}

TEST_CASE("a server-given delay wins when it is longer", "[actors][policy]") {
  restart_policy p{5, ms(1000), ms(60000)};
  auto half = [] { return 0.5; };
  CHECK(p.next_delay(0, half, ms(7000))->count() == 7000);
  CHECK(p.next_delay(0, half, ms(10))->count() == 500);
}

TEST_CASE("default_random stays in [0, 1)", "[actors][policy]") {
  for (int i = 0; i < 1000; ++i) {
    auto r = default_random();
    REQUIRE(r >= 0.0);
    REQUIRE(r < 1.0);
  }
}
