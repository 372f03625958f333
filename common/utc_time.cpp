#include "common/utc_time.hpp"

#include <cstdio>
#include <ctime>

namespace quel {

std::string utc_iso(std::chrono::system_clock::time_point at, bool millis) {
  using namespace std::chrono;
  auto secs = system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (millis) {
    // What `at` holds beyond the whole seconds that time_t carries.
    auto ms = duration_cast<milliseconds>(at - system_clock::from_time_t(secs)).count();
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  } else {
    std::snprintf(buf + n, sizeof buf - n, "Z");
  }
  return buf;
}

std::string utc_now_iso(bool millis) {
  return utc_iso(std::chrono::system_clock::now(), millis);
}

} // namespace quel
