#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <catch2/catch.hpp>

namespace quel::test {

child_process::child_process(const std::vector<std::string>& argv, const env_map& env,
                             std::string log_path)
    : log_path_(std::move(log_path)) {
  REQUIRE(!argv.empty());
  exec_arrays args{argv, env};
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  INFO("log file " << log_path_);
  REQUIRE(log_fd >= 0);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    FAIL("fork failed: " << std::strerror(errno));
  }
  if (pid == 0) {
    // Dies with the test binary even if the test itself crashes.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      ::dup2(devnull, STDIN_FILENO);
    ::execve(args.argv()[0], args.argv(), args.envp());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
}

child_process::~child_process() {
  if (pid_ > 0)
    kill_now();
}

void child_process::reap(int status) {
  pid_ = -1;
  end_ = process_end_of(status);
}

bool child_process::running() {
  if (pid_ <= 0)
    return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_)
    reap(status);
  return pid_ > 0;
}

void child_process::signal(int sig) {
  if (running())
    ::kill(pid_, sig);
}

process_end child_process::kill_now() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::kill(pid_, SIGCONT);
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_)
      reap(status);
    else
      pid_ = -1;
  }
  return end_;
}

std::optional<process_end> child_process::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return end_;
}

process_end child_process::terminate(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto e = wait_for(grace))
    return *e;
  return kill_now();
}

std::string child_process::log() const {
  return read_file(log_path_);
}

process_end process_end_of(int wait_status) {
  process_end e;
  if (WIFEXITED(wait_status)) {
    e.exited = true;
    e.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    e.signal = WTERMSIG(wait_status);
  }
  return e;
}

int shell_status(const process_end& e) {
  return e.exited ? e.code : 128 + e.signal;
}

std::string unclean_exit(child_process& p, std::chrono::seconds timeout,
                         const std::string& what) {
  auto end = p.wait_for(timeout);
  if (end && end->exited && end->code == 0)
    return "";
  auto how = end ? describe(*end)
                 : "still running after " + std::to_string(timeout.count()) + " s";
  return what + ": " + how + ": " + log_tail(p.log());
}

std::string describe(const process_end& e) {
  if (e.exited)
    return "exit " + std::to_string(e.code);
  return "signal " + std::to_string(e.signal) + " (" + strsignal(e.signal) + ")";
}

} // namespace quel::test
