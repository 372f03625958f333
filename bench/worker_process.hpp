#pragma once

#include <map>
#include <string>
#include <vector>

namespace quel::bench {

/// What one run of a child process cost.
struct process_usage {
  int exit_code = -1;        // -signal when killed by a signal
  double wall_seconds = 0;   // spawn to exit
  long peak_rss_kb = 0;      // max of VmHWM samples and the child's ru_maxrss
  int peak_threads = 0;      // largest /proc/<pid>/status Threads: seen
  double cpu_seconds = 0;    // user + system time of the child
  bool timed_out = false;    // SIGKILLed after the deadline
};

/// Runs the worker binary as a child with exactly `env` as its environment,
/// output appended to `log_path`, and samples its /proc status every 20 ms
/// until it exits (or SIGKILLs it after `timeout_seconds`).
process_usage run_and_measure(const std::vector<std::string>& argv,
                              const std::map<std::string, std::string>& env,
                              const std::string& log_path, double timeout_seconds);

} // namespace quel::bench
