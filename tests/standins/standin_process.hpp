#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace quel::test {

/// A stand-in server (tests/standins/*.py) run as a child process on a free
/// loopback port for the lifetime of this object. Spawned without threads,
/// so tests that count the process's threads are not disturbed.
class standin_process {
public:
  /// Starts `python3 tests/standins/<script> --port 0 <args...>` and waits
  /// for its "ready PORT" line.
  standin_process(const std::string& script, const std::vector<std::string>& args) {
    std::string path = std::string(QUEL_SOURCE_DIR) + "/tests/standins/" + script;
    std::vector<std::string> argv_s{"python3", "-u", path, "--port", "0",
                                    "--parent-pid", std::to_string(getpid())};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      throw std::runtime_error("could not start python3 for " + script);
    }
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      pollfd p{fds[0], POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0)
        break;
      char buf[256];
      auto n = read(fds[0], buf, sizeof buf);
      if (n <= 0)
        break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    if (line.rfind("ready ", 0) != 0) {
      stop();
      throw std::runtime_error(script + " did not start: '" + line + "'");
    }
    port_ = std::stoi(line.substr(6));
  }

  ~standin_process() { stop(); }

  standin_process(const standin_process&) = delete;
  standin_process& operator=(const standin_process&) = delete;

  int port() const { return port_; }

  /// http://127.0.0.1:PORT
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
  void stop() {
    if (pid_ <= 0)
      return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};

} // namespace quel::test
