#include "common/process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace quel {

namespace {

/// Seconds since the epoch at boot (`btime` of /proc/stat).
double boot_time() {
  std::ifstream in{"/proc/stat"};
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

} // namespace

std::optional<process_stats> read_process_stats() {
  std::ifstream stat{"/proc/self/stat"};
  std::string text;
  if (!std::getline(stat, text))
    return std::nullopt;
  process_stats s;
  // Fields after the command name (which may hold spaces and parentheses):
  // 3 state ... 14 utime, 15 stime, 20 num_threads, 22 starttime,
  // 23 vsize, 24 rss (pages).
  auto close = text.rfind(')');
  std::istringstream fields{text.substr(close + 2)};
  std::string field;
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  for (int n = 3; fields >> field; ++n) {
    auto v = std::strtod(field.c_str(), nullptr);
    switch (n) {
      case 14: case 15: s.cpu_seconds_total += v / ticks; break;
      case 20: s.threads = v; break;
      case 22: s.start_time_seconds = boot_time() + v / ticks; break;
      case 23: s.virtual_memory_bytes = v; break;
      case 24: s.resident_memory_bytes = v * page; break;
      default: break;
    }
  }
  if (auto* dir = ::opendir("/proc/self/fd")) {
    while (auto* entry = ::readdir(dir))
      if (entry->d_name[0] != '.')
        s.open_fds++;
    ::closedir(dir);
    s.open_fds--;  // the directory stream's own descriptor
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0)
    s.max_fds = static_cast<double>(limit.rlim_cur);
  return s;
}

} // namespace quel
