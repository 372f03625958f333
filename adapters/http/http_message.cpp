#include "adapters/http/http_message.hpp"

#include <strings.h>

namespace quel {

std::string_view header_value(const http_headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers)
    if (key.size() == name.size()
        && strncasecmp(key.data(), name.data(), name.size()) == 0)
      return value;
  return {};
}

const char* to_string(http_failure f) {
  switch (f) {
    case http_failure::none:
      return "none";
    case http_failure::timeout:
      return "timeout";
    case http_failure::network:
      return "network error";
    case http_failure::too_large:
      return "response too large";
    case http_failure::cancelled:
      return "cancelled";
  }
  return "unknown";
}

} // namespace quel
