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

namespace {

/// The decisions for a run of failures of one operation, as the StageActor
/// asks for them (one retry_state per image).
struct operation {
  backoff_policy backoff;
  backoff_policy::random_source random;
  retry_state state;

  std::optional<milliseconds> fail(retry_class c, std::optional<milliseconds> hint = {}) {
    return next_retry(backoff, state, c, hint, random);
  }
};

operation op(backoff_policy backoff = {}, uint64_t seed = 1) {
  return {backoff, seeded_random(seed), {}};
}

} // namespace

TEST_CASE("retry delays are full jitter under the exponential ceiling", "[http][retry]") {
  backoff_policy backoff;
  backoff.max_attempts = 100;
  for (int failures = 1; failures <= 10; ++failures) {
    auto ceiling = std::min<int64_t>(60000, int64_t{1000} << (failures - 1));
    int64_t highest = 0;
    for (int i = 0; i < 200; ++i) {
      auto o = op(backoff, static_cast<uint64_t>(i));
      std::optional<milliseconds> d;
      for (int k = 0; k < failures; ++k)
        d = o.fail(retry_class::retryable);
      REQUIRE(d);
      REQUIRE(d->count() >= 0);
      REQUIRE(d->count() <= ceiling);
      highest = std::max<int64_t>(highest, d->count());
    }
    INFO("failures=" << failures);
    CHECK(highest > ceiling / 2);  // spread over the range, not stuck at 0
  }
}

TEST_CASE("retryable failures are tried at most max_attempts times", "[http][retry]") {
  auto o = op();
  for (int i = 1; i <= 4; ++i) {
    INFO("failure " << i);
    CHECK(o.fail(retry_class::retryable));
  }
  CHECK_FALSE(o.fail(retry_class::retryable));
  CHECK(o.state.failures == 5);
}

TEST_CASE("permanent failures and missing objects are never retried", "[http][retry]") {
  auto permanent = op();
  CHECK_FALSE(permanent.fail(retry_class::permanent));
  CHECK(permanent.state.failures == 1);
  // A missing object does not appear by asking again (the storage classifier
  // used to call it "nothing to retry" and the actor "object missing").
  auto missing = op();
  CHECK_FALSE(missing.fail(retry_class::object_missing));
  CHECK_FALSE(missing.fail(retry_class::object_missing, milliseconds(10)));
}

TEST_CASE("a reply without an image is retried once", "[http][retry]") {
  auto o = op({}, 7);
  CHECK(o.fail(retry_class::retry_once));
  CHECK_FALSE(o.fail(retry_class::retry_once));
}

TEST_CASE("a reply without an image after a 5xx still gets its one retry", "[http][retry]") {
  // Rule 18 retries the reply without an image once, whatever failed before
  // it; the StageActor used to give up here because the image had restarted.
  auto o = op({}, 7);
  CHECK(o.fail(retry_class::retryable));
  CHECK(o.fail(retry_class::retry_once));
  CHECK(o.fail(retry_class::retryable));
  CHECK_FALSE(o.fail(retry_class::retry_once));
}

TEST_CASE("a reply without an image counts against the attempt limit", "[http][retry]") {
  auto o = op();
  for (int i = 1; i <= 4; ++i)
    CHECK(o.fail(i == 4 ? retry_class::retry_once : retry_class::retryable));
  CHECK_FALSE(o.fail(retry_class::retryable));
}

TEST_CASE("a server delay up to 60 s is honoured exactly", "[http][retry]") {
  auto o = op({}, 3);
  CHECK(o.fail(retry_class::retryable, milliseconds(56000)) == milliseconds(56000));
  CHECK(o.fail(retry_class::retryable, milliseconds(60000)) == milliseconds(60000));
  CHECK_FALSE(o.fail(retry_class::retryable, milliseconds(60001)));
}

TEST_CASE("custom limits apply", "[http][retry]") {
  backoff_policy backoff;
  backoff.max_attempts = 2;
  backoff.base = milliseconds(10);
  backoff.cap = milliseconds(15);
  auto o = op(backoff, 5);
  auto d = o.fail(retry_class::retryable);
  REQUIRE(d);
  CHECK(*d <= milliseconds(10));
  CHECK_FALSE(o.fail(retry_class::retryable));
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
