#include "common/config_values.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace quel {

std::optional<int64_t> parse_whole_number(std::string_view text, int64_t min, int64_t max) {
  // Digits only: from_chars also takes a '-', and "-0" passed as 0.
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < min
      || v > max)
    return std::nullopt;
  return v;
}

std::optional<double> parse_plain_decimal(std::string_view text) {
  auto digits = [](std::string_view t) {
    return !t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos;
  };
  auto dot = text.find('.');
  bool well_formed = dot == std::string_view::npos
                       ? digits(text)
                       : digits(text.substr(0, dot)) && digits(text.substr(dot + 1));
  if (!well_formed)
    return std::nullopt;
  // strtod needs a terminated string; the text is digits and one dot only.
  return std::strtod(std::string(text).c_str(), nullptr);
}

std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text, double min,
                                                       double max) {
  auto v = parse_plain_decimal(text);
  if (!v || !(*v >= min && *v <= max))
    return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(*v * 1000)));
}

std::optional<double> parse_fraction(std::string_view text) {
  auto v = parse_plain_decimal(text);
  if (!v || !(*v >= 0.0 && *v <= 1.0))
    return std::nullopt;
  return v;
}

bool valid_http_addr(std::string_view addr) {
  if (addr == "off")
    return true;
  auto colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return false;
  return parse_whole_number(addr.substr(colon + 1), 1, 65535).has_value();
}

} // namespace quel
