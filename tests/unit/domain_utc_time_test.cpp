// UTC timestamps (common/utc_time): the dead-letter `at` and log `ts` forms.
#include <catch2/catch.hpp>

#include <regex>

#include "common/utc_time.hpp"

using namespace std::chrono;

TEST_CASE("utc_iso writes whole seconds, or milliseconds when asked", "[utc_time]") {
  // 2026-12-03T12:42:14Z plus 7 ms.
  auto at = system_clock::from_time_t(1796301734) + milliseconds(7);
  CHECK(quel::utc_iso(at) == "2026-12-03T12:42:14Z");
  CHECK(quel::utc_iso(at, true) == "2026-12-03T12:42:14.007Z");
  CHECK(quel::utc_iso(system_clock::from_time_t(0), true) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("utc_now_iso is the current time in the same form", "[utc_time]") {
  static const std::regex seconds_form{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"};
  static const std::regex millis_form{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"};
  CHECK(std::regex_match(quel::utc_now_iso(), seconds_form));
  CHECK(std::regex_match(quel::utc_now_iso(true), millis_form));
}
