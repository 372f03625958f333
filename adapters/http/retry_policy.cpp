#include "adapters/http/retry_policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace quel {

std::optional<std::chrono::milliseconds> parse_proto_duration(std::string_view text) {
  if (text.size() < 2 || text.back() != 's')
    return std::nullopt;
  std::string number(text.substr(0, text.size() - 1));
  if (number.find_first_not_of("0123456789.") != std::string::npos
      || number.find_first_of("0123456789") == std::string::npos)
    return std::nullopt;
  char* end = nullptr;
  double seconds = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(seconds) || seconds < 0)
    return std::nullopt;
  // A server's number is clamped before it becomes an integer (a huge one
  // would overflow int64); a day is already far beyond any honoured delay.
  constexpr double max_seconds = 86400;
  seconds = std::min(seconds, max_seconds);
  // Round up: waiting slightly longer than asked is harmless, shorter is not.
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000.0)));
}

std::optional<std::chrono::milliseconds>
next_retry(const backoff_policy& backoff, retry_state& state, retry_class c,
           std::optional<std::chrono::milliseconds> server_delay,
           const backoff_policy::random_source& random) {
  ++state.failures;
  switch (c) {
    case retry_class::permanent:
    case retry_class::object_missing:
      return std::nullopt;
    case retry_class::retry_once:
      if (++state.retry_once_failures > 1)
        return std::nullopt;
      break;
    case retry_class::retryable:
      break;
  }
  return backoff.delay_with_hint(state.failures, server_delay, random);
}

} // namespace quel
