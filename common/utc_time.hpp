#pragma once

#include <chrono>
#include <string>

namespace quel {

/// `at` as ISO 8601 UTC to the second, e.g. "2026-12-03T12:42:14Z" (the
/// dead-letter entries' `at`, CONTRACT.md). With `millis`, three fraction
/// digits follow the seconds: "2026-12-03T12:42:14.123Z" (log lines).
std::string utc_iso(std::chrono::system_clock::time_point at, bool millis = false);

/// utc_iso() of the current time.
std::string utc_now_iso(bool millis = false);

} // namespace quel
