#include "tests/integration/worker_endpoint_clients.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/test_redis.hpp"

namespace quel::test {

using steady = std::chrono::steady_clock;

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_until_closed(int fd, std::chrono::milliseconds limit) {
  std::string got;
  auto until = steady::now() + limit;
  char buf[4096];
  while (steady::now() < until) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0)
      continue;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return got + (n == 0 ? "<closed>" : "<reset>");
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

std::string get(int port, const std::string& path, std::chrono::milliseconds limit) {
  int fd = connect_to(port);
  if (fd < 0)
    return "";
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  auto reply = read_until_closed(fd, limit);
  ::close(fd);
  return reply;
}

bool wait_for_health(int port) {
  for (int i = 0; i < 300; ++i) {
    if (get(port, "/healthz", std::chrono::milliseconds{500}).find("200 OK")
        != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  return false;
}

endpoint_worker::endpoint_worker(worker_harness& h, const env_map& extra_env)
  : port_(free_tcp_port()) {
  log_path_ = make_temp_dir("quel-endpoint") + "/worker.log";
  auto env = h.worker_env(extra_env);
  env["QUEL_HTTP_ADDR"] = "127.0.0.1:" + std::to_string(port_);
  exec_arrays args({worker_binary(), "run"}, env);
  int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(log >= 0);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execve(args.argv()[0], args.argv(), args.envp());
    ::_exit(127);
  }
  ::close(log);
  REQUIRE(wait_for_health(port_));
}

endpoint_worker::~endpoint_worker() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool endpoint_worker::terminate_within(std::chrono::milliseconds limit) {
  ::kill(pid_, SIGTERM);
  auto until = steady::now() + limit;
  while (steady::now() < until) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return false;
}

bool endpoint_worker::running() {
  if (pid_ <= 0)
    return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string endpoint_worker::log() const {
  return read_file(log_path_);
}

} // namespace quel::test
