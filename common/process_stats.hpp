#pragma once

#include <optional>

/// This process's resource use from /proc/self, for the `process_*` metrics
/// (the names the Prometheus client libraries use).
namespace quel {

struct process_stats {
  double resident_memory_bytes = 0;  // VmRSS
  double virtual_memory_bytes = 0;   // VmSize
  double cpu_seconds_total = 0;      // user + system time
  double open_fds = 0;               // entries of /proc/self/fd
  double max_fds = 0;                // RLIMIT_NOFILE (soft)
  double threads = 0;                // Threads
  double start_time_seconds = 0;     // since the Unix epoch
};

/// Reads /proc/self; nullopt where /proc is not mounted.
std::optional<process_stats> read_process_stats();

} // namespace quel
