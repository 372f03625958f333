#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// The worker's logger: human-readable lines by default, JSON lines with
/// --log-format=json (CONTRACT.md section 8). Lines about a job carry its id:
/// in the human format they start with `job=<id> <message>` (time and level
/// follow as fields), in JSON it is the `job_id` field.
namespace quel::log {

enum class level { debug, info, warn, error };
enum class format { human, json };

/// Extra key/value pairs of one line (values are written as strings).
using fields = std::vector<std::pair<std::string, std::string>>;

void set_format(format f);
void set_min_level(level l);
format current_format();

/// Writes one line to stderr; thread-safe, one write(2) per line.
void write(level l, std::string_view job_id, std::string_view message,
           const fields& extra = {});

inline void info(std::string_view msg, const fields& extra = {}) {
  write(level::info, {}, msg, extra);
}
inline void warn(std::string_view msg, const fields& extra = {}) {
  write(level::warn, {}, msg, extra);
}
inline void error(std::string_view msg, const fields& extra = {}) {
  write(level::error, {}, msg, extra);
}
inline void debug(std::string_view msg, const fields& extra = {}) {
  write(level::debug, {}, msg, extra);
}
inline void job_info(std::string_view job, std::string_view msg,
                     const fields& extra = {}) {
  write(level::info, job, msg, extra);
}
inline void job_warn(std::string_view job, std::string_view msg,
                     const fields& extra = {}) {
  write(level::warn, job, msg, extra);
}
inline void job_error(std::string_view job, std::string_view msg,
                      const fields& extra = {}) {
  write(level::error, job, msg, extra);
}

/// Logs at most once per `interval_ms` per `key` (outage warnings would
/// otherwise flood the log while a server is down). Returns true if written.
bool limited(level l, const std::string& key, int interval_ms,
             std::string_view msg, const fields& extra = {});

/// Lets every rate-limited key log again at once (tests that check a
/// limited line must not depend on what ran before them).
void forget_limits();

} // namespace quel::log
