#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process_env.hpp"

namespace quel::test {

/// How a child process ended.
struct process_end {
  bool exited = false;    // exit() was called
  int code = -1;          // exit code when exited
  int signal = 0;         // terminating signal otherwise
};

/// A waitpid() status as a process_end.
process_end process_end_of(int wait_status);

/// The shell's number for how it ended: the exit code, or 128 + the signal.
int shell_status(const process_end& e);

/// "exit N" or "signal N (NAME)" for messages.
std::string describe(const process_end& e);

/// A child process (the worker binary, a proxy) started in the background
/// with its stdout and stderr appended to a log file; it is SIGKILLed and
/// reaped when the object goes away (and dies with the test binary), so a
/// failing test leaves nothing behind.
class child_process {
public:
  /// Starts argv[0] with `env` as its whole environment.
  child_process(const std::vector<std::string>& argv, const env_map& env,
                std::string log_path);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  /// True while the process has not been reaped.
  bool running();

  /// Sends `sig` (no-op once reaped).
  void signal(int sig);

  /// SIGKILLs the process (continuing it first if stopped) and reaps it.
  process_end kill_now();

  /// Waits up to `timeout` for the process to end; nullopt if it still runs.
  std::optional<process_end> wait_for(std::chrono::milliseconds timeout);

  /// SIGTERM, then up to `grace` for a clean exit, then SIGKILL.
  process_end terminate(std::chrono::milliseconds grace);

  /// How it ended (only after running() turned false).
  const process_end& end() const { return end_; }

  /// The log file's content so far.
  std::string log() const;

private:
  void reap(int status);

  pid_t pid_ = -1;
  std::string log_path_;
  process_end end_;
};

/// Waits up to `timeout` for `p` to end. "" when it exited with 0; else a
/// problem line: "<what>: exit 1: <log tail>", "<what>: signal 9 (Killed):
/// ...", or "<what>: still running after 120 s: ...".
std::string unclean_exit(child_process& p, std::chrono::seconds timeout,
                         const std::string& what);

} // namespace quel::test
