// libFuzzer target: one configuration value, as the worker's value parsers
// see it (common/config_values.*, used by worker_config::load). Each range
// below is one the worker uses. The parsers must never crash or hit UB
// (a huge number, "inf", an exponent), and what they accept must be what
// the documentation promises: plain digits in range, milliseconds within
// the range of seconds, a port in 1..65535. A break is __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config_values.hpp"

namespace {

void require(bool ok) {
  if (!ok)
    __builtin_trap();
}

bool only(std::string_view text, std::string_view allowed) {
  return text.find_first_not_of(allowed) == std::string_view::npos;
}

void whole_numbers(std::string_view text) {
  const int64_t ranges[][2] = {{1, 64}, {0, 10000}, {1, 3600000}, {2, int64_t{1} << 30},
                               {1, int64_t{1} << 40}, {0, 1000000000}, {1, 65535}};
  for (auto& r : ranges) {
    auto v = quel::parse_whole_number(text, r[0], r[1]);
    if (!v)
      continue;
    require(*v >= r[0] && *v <= r[1]);
    require(!text.empty() && only(text, "0123456789"));
    // The text is the number, up to leading zeros.
    auto digits = text.substr(std::min(text.find_first_not_of('0'), text.size() - 1));
    require(std::to_string(*v) == digits);
  }
}

void durations(std::string_view text) {
  const double ranges[][2] = {{0.1, 3600}, {0, 86400}, {0, 30 * 86400}, {0.5, 86400},
                              {0.05, 60}, {0, 3600}};
  for (auto& r : ranges) {
    auto ms = quel::parse_seconds(text, r[0], r[1]);
    if (!ms)
      continue;
    require(only(text, "0123456789.") && text.find('.') == text.rfind('.'));
    require(text.front() != '.' && text.back() != '.');
    require(ms->count() >= static_cast<int64_t>(r[0] * 1000) - 1);
    require(ms->count() <= static_cast<int64_t>(r[1] * 1000) + 1);
  }
  if (auto f = quel::parse_fraction(text))
    require(*f >= 0.0 && *f <= 1.0 && only(text, "0123456789."));
}

void addresses(std::string_view text) {
  if (!quel::valid_http_addr(text) || text == "off")
    return;
  auto colon = text.rfind(':');
  require(colon != std::string_view::npos && colon > 0);
  auto port = text.substr(colon + 1);
  require(!port.empty() && only(port, "0123456789"));
  require(quel::parse_whole_number(port, 1, 65535).has_value());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  whole_numbers(text);
  durations(text);
  addresses(text);
  return 0;
}
