#include <catch2/catch.hpp>

#include <algorithm>

#include "adapters/http/retry_policy.hpp"

using namespace quel;
using std::chrono::milliseconds;

TEST_CASE("proto durations parse to milliseconds", "[http][retry]") {
  CHECK(parse_proto_duration("56s") == milliseconds(56000));
  CHECK(parse_proto_duration("0.539477544s") == milliseconds(540));
  CHECK(parse_proto_duration("0s") == milliseconds(0));
  CHECK(parse_proto_duration("1.5s") == milliseconds(1500));
  for (const char* bad : {"", "s", "56", "abc", "-1s", "1.5ms", "1e3s", " 5s"}) {
    INFO(bad);
    CHECK_FALSE(parse_proto_duration(bad).has_value());
  }
}

TEST_CASE("retry delays are full jitter under the exponential ceiling", "[http][retry]") {
  backoff_policy backoff;
  backoff.max_attempts = 100;
  for (int failures = 1; failures <= 10; ++failures) {
    auto ceiling = std::min<int64_t>(60000, int64_t{1000} << (failures - 1));
    int64_t highest = 0;
    for (int i = 0; i < 200; ++i) {
      retry_policy policy(backoff, seeded_random(static_cast<uint64_t>(i)));
      retry_decision d;
      for (int k = 0; k < failures; ++k)
        d = policy.on_failure(retry_class::retryable);
      REQUIRE(d.retry);
      REQUIRE(d.delay.count() >= 0);
      REQUIRE(d.delay.count() <= ceiling);
      highest = std::max<int64_t>(highest, d.delay.count());
    }
    INFO("failures=" << failures);
    CHECK(highest > ceiling / 2);  // spread over the range, not stuck at 0
  }
}

TEST_CASE("retryable failures are tried at most max_attempts times", "[http][retry]") {
  retry_policy policy({}, seeded_random(1));
  for (int i = 1; i <= 4; ++i) {
    auto d = policy.on_failure(retry_class::retryable);
    INFO("failure " << i);
    CHECK(d.retry);
  }
  CHECK_FALSE(policy.on_failure(retry_class::retryable).retry);
  CHECK(policy.failures() == 5);
}

TEST_CASE("permanent failures are never retried", "[http][retry]") {
  retry_policy policy;
  CHECK_FALSE(policy.on_failure(retry_class::permanent).retry);
  CHECK(policy.failures() == 1);
}

TEST_CASE("a reply without an image is retried once", "[http][retry]") {
  retry_policy policy({}, seeded_random(7));
  CHECK(policy.on_failure(retry_class::retryable).retry);
  CHECK(policy.on_failure(retry_class::retry_once).retry);
  CHECK_FALSE(policy.on_failure(retry_class::retry_once).retry);
}

TEST_CASE("a server delay up to 60 s is honoured exactly", "[http][retry]") {
  retry_policy policy({}, seeded_random(3));
  auto d = policy.on_failure(retry_class::retryable, milliseconds(56000));
  CHECK(d.retry);
  CHECK(d.delay == milliseconds(56000));
  auto sixty = policy.on_failure(retry_class::retryable, milliseconds(60000));
  CHECK(sixty.retry);
  CHECK(sixty.delay == milliseconds(60000));
  auto too_long = policy.on_failure(retry_class::retryable, milliseconds(60001));
  CHECK_FALSE(too_long.retry);
}

TEST_CASE("custom limits apply", "[http][retry]") {
  backoff_policy backoff;
  backoff.max_attempts = 2;
  backoff.base = milliseconds(10);
  backoff.cap = milliseconds(15);
  retry_policy policy(backoff, seeded_random(5));
  auto d = policy.on_failure(retry_class::retryable);
  CHECK(d.retry);
  CHECK(d.delay <= milliseconds(10));
  CHECK_FALSE(policy.on_failure(retry_class::retryable).retry);
}

TEST_CASE("a server's huge RetryInfo delay is clamped before it becomes an integer",
          "[retry]") {
  using std::chrono::milliseconds;
  // 10^25 s would overflow int64 milliseconds (undefined behaviour): it is
  // clamped to a day, which is still far beyond any delay that is honoured.
  CHECK(quel::parse_proto_duration("10000000000000000000000000s") == milliseconds(86400000));
  CHECK(quel::parse_proto_duration(std::string(300, '9') + "s") == milliseconds(86400000));
  CHECK(quel::parse_proto_duration("86399.5s") == milliseconds(86399500));
}
