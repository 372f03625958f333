#include "tests/fault/fault_tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/test_redis.hpp"

namespace quel::test {

namespace {

std::string python_binary() {
  for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3"})
    if (::access(p, X_OK) == 0)
      return p;
  FAIL("python3 not found in /usr/bin or /usr/local/bin");
  return {};
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

} // namespace

tcp_proxy::tcp_proxy(const std::string& target_host, int target_port,
                     const std::string& log_path)
    : listen_port_(free_tcp_port()), control_port_(free_tcp_port()) {
  env_map env{{"PATH", "/usr/bin:/bin"}, {"PYTHONUNBUFFERED", "1"}};
  process_ = std::make_unique<fault_process>(
    std::vector<std::string>{python_binary(), QUEL_SOURCE_DIR "/tests/fault/tcp_fault_proxy.py",
                             "--listen", std::to_string(listen_port_), "--target",
                             target_host + ":" + std::to_string(target_port), "--control",
                             std::to_string(control_port_)},
    env, log_path);
  for (int i = 0; i < 250; ++i) {
    int fd = connect_loopback(control_port_);
    if (fd >= 0) {
      ::close(fd);
      return;
    }
    if (!process_->running())
      FAIL("tcp_fault_proxy.py exited at start: " << process_->log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("tcp_fault_proxy.py did not open its control port: " << process_->log());
}

tcp_proxy::~tcp_proxy() = default;

std::string tcp_proxy::command(const std::string& line) {
  int fd = connect_loopback(control_port_);
  REQUIRE(fd >= 0);
  std::string msg = line + "\n";
  REQUIRE(::write(fd, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
  std::string answer;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n')
    answer.push_back(c);
  ::close(fd);
  INFO("proxy command " << line);
  REQUIRE(answer.rfind("ok", 0) == 0);
  return answer;
}

int tcp_proxy::connections() {
  auto answer = command("count");
  return std::atoi(answer.c_str() + 3);
}

} // namespace quel::test
