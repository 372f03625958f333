#include "bench/worker_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "bench/bench_stats.hpp"
#include "tests/support/process_env.hpp"

namespace quel::bench {

namespace {

/// Raises the peaks with the VmHWM (kB) and Threads lines of /proc/<pid>/status.
void sample_status(pid_t pid, long& hwm_kb, int& threads) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0)
      hwm_kb = std::max(hwm_kb, std::stol(line.substr(6)));
    else if (line.rfind("Threads:", 0) == 0)
      threads = std::max(threads, std::stoi(line.substr(8)));
  }
}

} // namespace

process_usage run_and_measure(const std::vector<std::string>& argv,
                              const std::map<std::string, std::string>& env,
                              const std::string& log_path, double timeout_seconds) {
  test::exec_arrays args{argv, env};
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    throw std::runtime_error("cannot open " + log_path);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
  pid_t pid = -1;
  double start = now_seconds();
  int rc = posix_spawn(&pid, args.argv()[0], &actions, nullptr, args.argv(), args.envp());
  posix_spawn_file_actions_destroy(&actions);
  ::close(log_fd);
  if (rc != 0)
    throw std::runtime_error("cannot start " + argv[0]);

  process_usage u;
  int status = 0;
  struct rusage ru {};
  for (;;) {
    pid_t done = wait4(pid, &status, WNOHANG, &ru);
    if (done == pid)
      break;
    sample_status(pid, u.peak_rss_kb, u.peak_threads);
    if (!u.timed_out && now_seconds() - start > timeout_seconds) {
      kill(pid, SIGKILL);
      u.timed_out = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  u.wall_seconds = now_seconds() - start;
  u.peak_rss_kb = std::max(u.peak_rss_kb, ru.ru_maxrss);
  u.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
                  + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  u.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return u;
}

} // namespace quel::bench
