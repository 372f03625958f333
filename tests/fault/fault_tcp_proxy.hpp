#pragma once

#include <memory>
#include <string>

#include "tests/fault/fault_worker_process.hpp"

namespace quel::test {

/// A tests/fault/tcp_fault_proxy.py process between the worker and one
/// server, switched by the test between pass, cut, stall and delay.
class tcp_proxy {
public:
  /// Starts the proxy in pass mode in front of target_host:target_port.
  tcp_proxy(const std::string& target_host, int target_port, const std::string& log_path);
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  /// The port clients connect to instead of the server's.
  int port() const { return listen_port_; }

  void pass() { command("pass"); }
  void cut() { command("cut"); }
  void stall() { command("stall"); }
  void delay(int ms) { command("delay " + std::to_string(ms)); }
  /// Connections accepted so far (proves that traffic goes through it).
  int connections();

private:
  std::string command(const std::string& line);

  int listen_port_ = 0;
  int control_port_ = 0;
  std::unique_ptr<fault_process> process_;
};

} // namespace quel::test
