#include "adapters/redis/redis_queue.hpp"

#include <cctype>
#include <stdexcept>
#include <string_view>

namespace quel {

namespace {

// Error messages name the part that is wrong but never echo the URL, which
// may carry a password.
[[noreturn]] void invalid(const std::string& why) {
  throw std::invalid_argument("invalid Redis URL: " + why);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text, const char* part) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      invalid(std::string("bad percent-encoding in the ") + part);
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

/// Parses a decimal number in [lo, hi]; `what` names it in the error.
long parse_number(std::string_view text, long lo, long hi, const char* what) {
  if (text.empty() || text.size() > 9)
    invalid(std::string("bad ") + what);
  long value = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      invalid(std::string("bad ") + what + " '" + std::string(text) + "'");
    value = value * 10 + (c - '0');
  }
  if (value < lo || value > hi)
    invalid(std::string(what) + " out of range: " + std::string(text));
  return value;
}

} // namespace

redis_endpoint redis_endpoint::parse(const std::string& url) {
  std::string_view rest = url;
  constexpr std::string_view scheme = "redis://";
  if (rest.substr(0, 9) == "rediss://")
    invalid("rediss:// (TLS) is not supported: hiredis 0.14 has no TLS; "
            "use redis:// (e.g. through a local TLS tunnel)");
  if (rest.substr(0, scheme.size()) != scheme)
    invalid("it must start with redis://");
  rest.remove_prefix(scheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos)
    invalid("query strings and fragments are not supported");

  redis_endpoint ep;
  // The password may itself contain '@' or '/' when not encoded, so the
  // userinfo ends at the last '@'.
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      ep.username = percent_decode(userinfo, "user name");
    } else {
      ep.username = percent_decode(userinfo.substr(0, colon), "user name");
      ep.password = percent_decode(userinfo.substr(colon + 1), "password");
    }
  }

  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto path = rest.substr(slash + 1);
    if (!path.empty())
      ep.db = static_cast<int>(parse_number(path, 0, 1000000, "database number"));
  }

  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      invalid("unterminated [IPv6] host");
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        invalid("unexpected text after the [IPv6] host");
      port = after.substr(1);
      if (port.empty())
        invalid("empty port");
    }
  } else {
    auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty())
        invalid("empty port");
    }
  }
  if (host.empty())
    invalid("no host");
  ep.host = std::string(host);
  if (!port.empty())
    ep.port = static_cast<int>(parse_number(port, 1, 65535, "port"));
  return ep;
}

} // namespace quel
