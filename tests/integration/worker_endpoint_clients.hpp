#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "tests/support/worker_harness.hpp"

/// Raw loopback TCP clients for the worker's HTTP endpoint, which tests use
/// to behave as hostile clients do (stall, trickle, send oversized heads).
namespace quel::test {

/// A connected socket to 127.0.0.1:`port`, or -1.
int connect_to(int port);

/// Everything the server sends on `fd` until it closes ("<closed>" is then
/// appended, "<reset>" on an error) or `limit` passes.
std::string read_until_closed(int fd, std::chrono::milliseconds limit);

/// GET `path` on a fresh connection; the whole reply, or "" after `limit`.
std::string get(int port, const std::string& path, std::chrono::milliseconds limit);

/// Polls /healthz for up to 30 s; true once it answers 200.
bool wait_for_health(int port);

/// `quel-worker run` in the background with its HTTP endpoint on a free
/// loopback port and its output in a file, started once /healthz answers;
/// SIGKILLed by the destructor if still running.
class endpoint_worker {
public:
  explicit endpoint_worker(worker_harness& h, const env_map& extra_env = {});
  ~endpoint_worker();
  endpoint_worker(const endpoint_worker&) = delete;
  endpoint_worker& operator=(const endpoint_worker&) = delete;

  /// Sends SIGTERM and waits up to `limit`; true when it exited with status 0.
  bool terminate_within(std::chrono::milliseconds limit);
  /// Whether the process is still running (not exited, not reaped).
  bool running();

  std::string log() const;
  int port() const { return port_; }

private:
  int port_;
  pid_t pid_ = -1;
  std::string log_path_;
};

} // namespace quel::test
