// Retry backoff (rule 17) and ids (UUIDs, node ids: rule 27).
#include <catch2/catch.hpp>

#include <set>

#include "common/backoff.hpp"
#include "common/uuid.hpp"

using namespace quel;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("defaults follow rule 17: base 1 s, cap 60 s, 5 attempts", "[backoff]") {
  backoff_policy p;
  CHECK(p.base == seconds(1));
  CHECK(p.cap == seconds(60));
  CHECK(p.max_attempts == 5);
  for (int attempt = 1; attempt < 5; ++attempt)
    CHECK(p.should_retry(attempt));
  CHECK_FALSE(p.should_retry(5));
  CHECK_FALSE(p.should_retry(6));
}

TEST_CASE("the ceiling doubles per attempt up to the cap", "[backoff]") {
  backoff_policy p;
  CHECK(p.ceiling(1) == seconds(1));
  CHECK(p.ceiling(2) == seconds(2));
  CHECK(p.ceiling(3) == seconds(4));
  CHECK(p.ceiling(6) == seconds(32));
  CHECK(p.ceiling(7) == seconds(60));
  CHECK(p.ceiling(1000) == seconds(60));
  backoff_policy fast{milliseconds(30), milliseconds(100), 3};
  CHECK(fast.ceiling(2) == milliseconds(60));
  CHECK(fast.ceiling(3) == milliseconds(100));
}

TEST_CASE("full jitter spreads the delay uniformly over [0, ceiling]", "[backoff]") {
  backoff_policy p;
  auto fixed = [](double u) { return [u] { return u; }; };
  CHECK(p.delay(3, fixed(0.0)) == milliseconds(0));
  CHECK(p.delay(3, fixed(0.5)) == milliseconds(2000));
  CHECK(p.delay(3, fixed(0.25)) == milliseconds(1000));
  CHECK(p.delay(10, fixed(0.5)) == seconds(30));
  CHECK(p.delay(3, fixed(0.9999999)) < milliseconds(4000));
  // A broken source cannot push the delay outside the bounds.
  CHECK(p.delay(3, fixed(7.0)) == milliseconds(4000));
  CHECK(p.delay(3, fixed(-1.0)) == milliseconds(0));

  auto random = seeded_random(42);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    double sum = 0;
    const int draws = 4000;
    for (int i = 0; i < draws; ++i) {
      auto d = p.delay(attempt, random);
      REQUIRE(d >= milliseconds(0));
      REQUIRE(d <= p.ceiling(attempt));
      sum += static_cast<double>(d.count());
    }
    auto mean = sum / draws / static_cast<double>(p.ceiling(attempt).count());
    INFO("attempt " << attempt);
    CHECK(mean > 0.45);
    CHECK(mean < 0.55);
  }
}

TEST_CASE("seeded random sources are deterministic", "[backoff]") {
  backoff_policy p;
  auto a = seeded_random(7);
  auto b = seeded_random(7);
  auto c = seeded_random(8);
  std::vector<milliseconds> from_a, from_b, from_c;
  for (int i = 0; i < 20; ++i) {
    from_a.push_back(p.delay(7, a));
    from_b.push_back(p.delay(7, b));
    from_c.push_back(p.delay(7, c));
  }
  CHECK(from_a == from_b);
  CHECK(from_a != from_c);
  auto sys = system_random();
  for (int i = 0; i < 100; ++i) {
    auto u = sys();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
  }
}

TEST_CASE("a server-given delay wins up to the cap, and a longer one means give up", "[backoff]") {
  backoff_policy p;
  auto half = [] { return 0.5; };
  CHECK(p.delay_with_hint(1, seconds(30), half) == std::optional<milliseconds>(seconds(30)));
  CHECK(p.delay_with_hint(1, seconds(60), half) == std::optional<milliseconds>(seconds(60)));
  CHECK(p.delay_with_hint(1, milliseconds(60001), half) == std::nullopt);
  CHECK(p.delay_with_hint(1, seconds(86400), half) == std::nullopt);
  CHECK(p.delay_with_hint(2, std::nullopt, half) == std::optional<milliseconds>(seconds(1)));
  CHECK(p.delay_with_hint(5, seconds(1), half) == std::nullopt);
  CHECK(p.delay_with_hint(5, std::nullopt, half) == std::nullopt);
}

TEST_CASE("is_uuid accepts canonical UUIDs in either case only", "[ids]") {
  CHECK(is_uuid("6f1c2a1e-0b1d-4c8e-9f00-1234567890ab"));
  CHECK(is_uuid("6F1C2A1E-0B1D-4C8E-9F00-1234567890AB"));
  CHECK(is_uuid("00000000-0000-0000-0000-000000000000"));
  CHECK_FALSE(is_uuid(""));
  CHECK_FALSE(is_uuid("6f1c2a1e0b1d4c8e9f001234567890ab"));
  CHECK_FALSE(is_uuid("{6f1c2a1e-0b1d-4c8e-9f00-1234567890ab}"));
  CHECK_FALSE(is_uuid("6f1c2a1e-0b1d-4c8e-9f00-1234567890a"));
  CHECK_FALSE(is_uuid("6f1c2a1e-0b1d-4c8e-9f00-1234567890abc"));
  CHECK_FALSE(is_uuid("6f1c2a1e-0b1d-4c8e-9f00-1234567890ag"));
  CHECK_FALSE(is_uuid("6f1c2a1e-0b1d-4c8e-9f0-01234567890ab"));
  CHECK_FALSE(is_uuid(" 6f1c2a1e-0b1d-4c8e-9f00-1234567890a"));
  CHECK_FALSE(is_uuid("not-a-uuid"));
}

TEST_CASE("node ids: 1-64 characters of A-Za-z0-9._-", "[ids]") {
  CHECK(valid_node_id("a"));
  CHECK(valid_node_id("worker-1.example_A"));
  CHECK(valid_node_id(std::string(64, 'x')));
  CHECK_FALSE(valid_node_id(""));
  CHECK_FALSE(valid_node_id(std::string(65, 'x')));
  CHECK_FALSE(valid_node_id("worker 1"));
  CHECK_FALSE(valid_node_id("worker/1"));
  CHECK_FALSE(valid_node_id("worker:1"));
  CHECK_FALSE(valid_node_id("wörker"));

  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    auto id = new_node_id();
    INFO(id);
    CHECK(valid_node_id(id));
    ids.insert(id);
  }
  CHECK(ids.size() == 50);
}
