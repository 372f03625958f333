#include "common/log_text.hpp"

#include <algorithm>
#include <cstdio>

#include "common/secret_text.hpp"

namespace quel {

namespace {

/// Length of the valid UTF-8 sequence starting at text[i], or 0.
size_t utf8_length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size())
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80)
      return 0;
  // Overlong forms and surrogates are not valid UTF-8 either.
  if ((n == 2 && c < 0xC2) || (n == 3 && c == 0xE0 && byte(i + 1) < 0xA0)
      || (n == 3 && c == 0xED && byte(i + 1) >= 0xA0)
      || (n == 4 && (c > 0xF4 || (c == 0xF0 && byte(i + 1) < 0x90)
                     || (c == 0xF4 && byte(i + 1) >= 0x90))))
    return 0;
  return n;
}

void append_hex(std::string& out, const char* prefix, unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%0*x", prefix, digits, value);
  out += buf;
}

/// The first `limit` bytes of a longer text, cut on a character boundary,
/// and a marker naming the whole text's length.
std::string clipped(std::string_view text, size_t limit, size_t total) {
  size_t n = std::min(limit, text.size());
  while (n > 0 && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
    --n;
  std::string out(text.substr(0, n));
  out += "...[truncated, " + std::to_string(total) + " bytes]";
  return out;
}

} // namespace

std::string clip_text(std::string_view text, size_t limit) {
  if (text.size() <= limit)
    return std::string(text);
  return clipped(text, limit, text.size());
}

std::string escape_controls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t n = utf8_length(text, i);
    if (n == 0) {
      append_hex(out, "\\x", c, 2);
      ++i;
      continue;
    }
    if (n == 1) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7F)
            append_hex(out, "\\x", c, 2);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    auto second = static_cast<unsigned char>(text[i + 1]);
    bool c1 = n == 2 && c == 0xC2 && second < 0xA0;                 // U+0080..U+009F
    bool separator = n == 3 && c == 0xE2 && second == 0x80
                     && (text[i + 2] == '\xA8' || text[i + 2] == '\xA9');  // U+2028, U+2029
    if (c1)
      append_hex(out, "\\u", second, 4);
    else if (separator)
      append_hex(out, "\\u", 0x2000u + (static_cast<unsigned char>(text[i + 2]) - 0x80u), 4);
    else
      out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string redact_and_clip(std::string_view text, size_t limit) {
  if (text.size() <= limit)
    return clip_text(redact_secrets(text), limit);
  // Redacting a 90 MB reply in full would cost for nothing: only a prefix
  // is shown. Redact a prefix long enough for the masks, minus any secret
  // the cut left half there, then clip it.
  auto head = redact_secrets(trim_partial_secret(text.substr(0, limit + 4096)));
  return clipped(head, limit, text.size());
}

} // namespace quel
