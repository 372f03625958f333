#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/log_text.hpp"

namespace quel::log {

namespace {

std::atomic<format> g_format{format::human};
std::atomic<level> g_min_level{level::info};

const char* level_name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

std::string utc_timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(millis));
  return buf;
}

/// `text` as a number when it is one in canonical form: an integer without
/// leading zeros that fits in int64 (so no id, code or zero-padded text is
/// changed), or such an integer with a fraction. Anything else stays text.
std::optional<nlohmann::json> canonical_number(const std::string& text) {
  // A hand-written scan: this runs for every field of every JSON line.
  size_t i = text.empty() || text[0] != '-' ? 0 : 1;
  size_t int_start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9')
    ++i;
  size_t int_digits = i - int_start;
  if (int_digits == 0 || int_digits > 18 || (int_digits > 1 && text[int_start] == '0'))
    return std::nullopt;
  if (i == text.size())
    return nlohmann::json(std::stoll(text));
  if (text[i] != '.')
    return std::nullopt;
  size_t frac_start = ++i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9')
    ++i;
  if (i != text.size() || i == frac_start || i - frac_start > 9)
    return std::nullopt;
  return nlohmann::json(std::stod(text));
}

/// Appends ` key=value` for every field (human format).
void append_fields(std::string& line, const fields& extra) {
  for (auto& [k, v] : extra) {
    line += ' ';
    line += k;
    line += '=';
    line += v;
  }
}

void emit(const std::string& line) {
  // One write per line keeps lines whole when threads log at once.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    auto n = ::write(STDERR_FILENO, p, left);
    if (n <= 0)
      return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

} // namespace

void set_format(format f) { g_format = f; }
void set_min_level(level l) { g_min_level = l; }
format current_format() { return g_format; }

void write(level l, std::string_view raw_job_id, std::string_view raw_message,
           const fields& raw_extra) {
  if (static_cast<int>(l) < static_cast<int>(g_min_level.load()))
    return;
  // Everything logged may hold untrusted text (ids, types, keys, upstream
  // replies) or a secret echoed by a server: it is redacted and clipped
  // here, once for every caller, and escaped in the human format.
  bool human = g_format != format::json;
  auto safe = [human](std::string_view text, size_t limit) {
    auto out = redact_and_clip(text, limit);
    return human ? escape_controls(out) : out;
  };
  auto job_id = safe(raw_job_id, max_id_chars);
  auto message = safe(raw_message, max_message_chars);
  fields extra;
  extra.reserve(raw_extra.size());
  for (auto& [k, v] : raw_extra)
    extra.emplace_back(safe(k, max_id_chars), safe(v, max_upstream_chars));
  std::string line;
  if (!human) {
    nlohmann::json j;
    j["ts"] = utc_timestamp();
    j["level"] = level_name(l);
    if (!job_id.empty())
      j["job_id"] = job_id;
    j["msg"] = message;
    for (auto& [k, v] : extra) {
      // Fields are text at the call sites; a value that is a number in
      // canonical form (counts, ids of images, milliseconds) is written as a
      // JSON number so log tools can compare and sum it.
      if (auto n = canonical_number(v))
        j[k] = *n;
      else
        j[k] = v;
    }
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else if (!job_id.empty()) {
    // Lines about a job start with job=<id> and the message (CONTRACT.md
    // rule 26), so `grep job=<id>` reads like the job's own story; the time
    // and level follow as fields.
    line = "job=";
    line += job_id;
    line += ' ';
    line += message;
    append_fields(line, extra);
    line += " ts=";
    line += utc_timestamp();
    line += " level=";
    line += level_name(l);
  } else {
    line = utc_timestamp();
    line += ' ';
    line += level_name(l);
    line += ' ';
    line += message;
    append_fields(line, extra);
  }
  line += '\n';
  emit(line);
}

namespace {

/// When each rate-limited key last logged.
struct limit_book {
  std::mutex mx;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> last;
};

limit_book& limits() {
  static limit_book book;
  return book;
}

} // namespace

void forget_limits() {
  auto& book = limits();
  std::lock_guard<std::mutex> guard{book.mx};
  book.last.clear();
}

bool limited(level l, const std::string& key, int interval_ms,
             std::string_view msg, const fields& extra) {
  auto& book = limits();
  auto& mx = book.mx;
  auto& last = book.last;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> guard{mx};
    auto i = last.find(key);
    if (i != last.end()
        && now - i->second < std::chrono::milliseconds(interval_ms))
      return false;
    last[key] = now;
  }
  write(l, {}, msg, extra);
  return true;
}

} // namespace quel::log
