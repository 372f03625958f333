#include "common/secret_text.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace quel {

namespace {

// ---- forms -----------------------------------------------------------------

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool starts_with_nocase(std::string_view text, size_t at, std::string_view word) {
  if (text.size() - at < word.size())
    return false;
  for (size_t k = 0; k < word.size(); ++k)
    if (std::tolower(static_cast<unsigned char>(text[at + k])) != word[k])
      return false;
  return true;
}

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

/// Parameters whose value is a secret. `anywhere`: also as a libpq keyword
/// (after a space or at the start); otherwise only as a URL query parameter
/// (after '?' or '&'), so that e.g. an object "key=" in a sentence stays.
struct secret_name {
  std::string_view name;
  bool anywhere;
};
constexpr secret_name secret_params[] = {
  {"password", true}, {"sslpassword", true}, {"passwd", true},
  {"key", false}, {"api_key", false}, {"apikey", false}, {"access_token", false},
  {"token", false}, {"secret", false}, {"client_secret", false}, {"sig", false},
};
/// Headers whose value is a secret ("Name: value", or "name": "value" in JSON).
constexpr std::string_view secret_headers[] = {
  "authorization", "proxy-authorization", "apikey", "x-goog-api-key", "x-api-key",
  "password",
};

/// End of a libpq single-quoted value starting at `open` (the quote): the
/// index of the closing quote, or text.size() when it is unterminated.
size_t quoted_end(std::string_view text, size_t open) {
  for (size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '\\')
      ++i;
    else if (text[i] == '\'')
      return i;
  }
  return text.size();
}

/// Where a parameter's value that starts at `from` ends.
size_t value_end(std::string_view text, size_t from) {
  size_t i = from;
  while (i < text.size() && !is_space(text[i]) && text[i] != '&' && text[i] != '#'
         && text[i] != '"')
    ++i;
  return i;
}

/// Writes `***` for text[from, to) (keeping quotes around it).
void mask_value(std::string_view text, size_t from, size_t& to, std::string& out) {
  if (from < text.size() && text[from] == '\'') {
    size_t close = quoted_end(text, from);
    out += "'";
    out += secret_mask;
    if (close < text.size())
      out += "'";
    to = close < text.size() ? close + 1 : close;
    return;
  }
  to = value_end(text, from);
  out += secret_mask;
}

/// If a secret parameter (`name = value`) starts at `at`, the index of its
/// value; else npos.
size_t param_value_at(std::string_view text, size_t at) {
  char before = at == 0 ? ' ' : text[at - 1];
  if (at > 0 && is_name_char(before))
    return std::string_view::npos;
  bool query = before == '?' || before == '&';
  bool keyword = at == 0 || is_space(before) || before == ';' || before == ','
                 || before == '"' || before == '(' || before == '{';
  for (auto& p : secret_params) {
    if (!(query || (p.anywhere && keyword)) || !starts_with_nocase(text, at, p.name))
      continue;
    size_t i = at + p.name.size();
    while (i < text.size() && is_space(text[i]) && !query)
      ++i;
    if (i >= text.size() || text[i] != '=')
      continue;
    ++i;
    while (i < text.size() && text[i] == ' ' && !query)
      ++i;
    return i;
  }
  return std::string_view::npos;
}

/// If a secret header (`Name: value`, `"name": "value"`) starts at `at`, the
/// index of its value; else npos.
size_t header_value_at(std::string_view text, size_t at) {
  if (at > 0 && (is_name_char(text[at - 1]) || text[at - 1] == '?' || text[at - 1] == '&'))
    return std::string_view::npos;
  for (auto name : secret_headers) {
    if (!starts_with_nocase(text, at, name))
      continue;
    size_t i = at + name.size();
    if (i < text.size() && (text[i] == '"' || text[i] == '\''))
      ++i;
    while (i < text.size() && text[i] == ' ')
      ++i;
    if (i >= text.size() || text[i] != ':')
      continue;
    ++i;
    while (i < text.size() && text[i] == ' ')
      ++i;
    return i;
  }
  return std::string_view::npos;
}

/// Masks a header value starting at `from`: a quoted value to its quote,
/// otherwise to the end of the line.
void mask_header_value(std::string_view text, size_t from, size_t& to, std::string& out) {
  if (from < text.size() && (text[from] == '"' || text[from] == '\'')) {
    char q = text[from];
    size_t close = text.find(q, from + 1);
    out += q;
    out += secret_mask;
    if (close != std::string_view::npos)
      out += q;
    to = close == std::string_view::npos ? text.size() : close + 1;
    return;
  }
  to = from;
  while (to < text.size() && text[to] != '\n' && text[to] != '\r' && text[to] != ',')
    ++to;
  out += secret_mask;
}

/// The URL userinfo of a `scheme://user:password@host` starting at `at`
/// (the scheme's first letter): [begin, end) of the password, or npos.
std::pair<size_t, size_t> userinfo_password_at(std::string_view text, size_t at) {
  constexpr auto npos = std::string_view::npos;
  if (at > 0 && (std::isalnum(static_cast<unsigned char>(text[at - 1])) != 0
                 || text[at - 1] == '+' || text[at - 1] == '.' || text[at - 1] == '-'))
    return {npos, npos};
  size_t i = at;
  while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) != 0
                             || text[i] == '+' || text[i] == '.' || text[i] == '-'))
    ++i;
  if (i == at || text.compare(i, 3, "://") != 0
      || std::isalpha(static_cast<unsigned char>(text[at])) == 0)
    return {npos, npos};
  size_t start = i + 3;
  // The password may itself hold '@', '/' or '?' when not encoded (as the
  // Redis URL parser allows), so the userinfo ends at the token's last '@'.
  size_t end = start;
  while (end < text.size() && !is_space(text[end]) && text[end] != '"' && text[end] != '\''
         && text[end] != '<' && text[end] != '>')
    ++end;
  auto token = text.substr(start, end - start);
  auto at_sign = token.rfind('@');
  if (at_sign == npos)
    return {npos, npos};
  auto colon = token.substr(0, at_sign).find(':');
  if (colon == npos)
    return {npos, npos};
  return {start + colon + 1, start + at_sign};
}

std::string mask_forms(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (auto [b, e] = userinfo_password_at(text, i); b != std::string_view::npos) {
      out.append(text.substr(i, b - i));
      out += secret_mask;
      i = e;
      continue;
    }
    if (size_t v = param_value_at(text, i); v != std::string_view::npos) {
      out.append(text.substr(i, v - i));
      mask_value(text, v, i, out);
      continue;
    }
    if (size_t v = header_value_at(text, i); v != std::string_view::npos) {
      out.append(text.substr(i, v - i));
      mask_header_value(text, v, i, out);
      continue;
    }
    out += text[i++];
  }
  return out;
}

// ---- values ----------------------------------------------------------------

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = s[i] == '%' && i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
    int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
    if (lo >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string unquoted(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size())
      ++i;
    out += s[i];
  }
  return out;
}

void add_with_decoded(std::vector<std::string>& out, std::string_view raw, bool uri) {
  if (raw.empty())
    return;
  out.emplace_back(raw);
  auto decoded = uri ? percent_decoded(raw) : unquoted(raw);
  if (decoded != raw)
    out.push_back(std::move(decoded));
}

using secret_list = std::vector<std::string>;

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::shared_ptr<const secret_list>& registry() {
  static std::shared_ptr<const secret_list> list = std::make_shared<secret_list>();
  return list;
}
std::shared_ptr<const secret_list> registered() {
  std::lock_guard<std::mutex> guard{registry_mutex()};
  return registry();
}

} // namespace

std::string mask_connection_string(std::string_view dsn) {
  return mask_forms(dsn);
}

std::vector<std::string> secrets_in_connection_string(std::string_view dsn) {
  std::vector<std::string> out;
  bool uri = dsn.find("://") != std::string_view::npos;
  if (uri) {
    auto [b, e] = userinfo_password_at(dsn, 0);
    if (b != std::string_view::npos)
      add_with_decoded(out, dsn.substr(b, e - b), true);
  }
  for (size_t i = 0; i < dsn.size(); ++i) {
    size_t v = param_value_at(dsn, i);
    if (v == std::string_view::npos)
      continue;
    if (v < dsn.size() && dsn[v] == '\'') {
      size_t close = quoted_end(dsn, v);
      add_with_decoded(out, dsn.substr(v + 1, close - v - 1), false);
    } else {
      add_with_decoded(out, dsn.substr(v, value_end(dsn, v) - v), uri);
    }
  }
  return out;
}

void register_secret(std::string_view value) {
  if (value.size() < 4)
    return;
  std::lock_guard<std::mutex> guard{registry_mutex()};
  auto next = std::make_shared<secret_list>(*registry());
  if (std::find(next->begin(), next->end(), value) != next->end())
    return;
  next->emplace_back(value);
  // Longest first, so a secret that contains another is masked whole.
  std::sort(next->begin(), next->end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  registry() = std::move(next);
}

void register_connection_secrets(std::string_view dsn) {
  for (auto& s : secrets_in_connection_string(dsn))
    register_secret(s);
}

void clear_registered_secrets() {
  std::lock_guard<std::mutex> guard{registry_mutex()};
  registry() = std::make_shared<secret_list>();
}

std::string_view trim_partial_secret(std::string_view prefix) {
  for (auto& s : *registered())
    for (size_t n = std::min(s.size() - 1, prefix.size()); n > 0; --n)
      if (prefix.compare(prefix.size() - n, n, s, 0, n) == 0)
        return prefix.substr(0, prefix.size() - n);
  return prefix;
}

std::string redact_secrets(std::string_view text) {
  std::string out(text);
  for (auto& s : *registered()) {
    for (size_t at = out.find(s); at != std::string::npos;
         at = out.find(s, at + secret_mask.size()))
      out.replace(at, s.size(), secret_mask);
  }
  return mask_forms(out);
}

} // namespace quel
