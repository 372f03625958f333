#pragma once

#include <memory>
#include <string>
#include <thread>

#include "actors/worker_metrics.hpp"

namespace httplib {
class Server;
}

namespace quel {

/// /metrics (Prometheus text), /healthz (the process runs) and /readyz (Redis
/// and PostgreSQL reachable, not shutting down) on a thread of its own.
class http_endpoint {
public:
  /// Binds `addr` (host:port) at once; throws std::runtime_error naming the
  /// address when it is in use or invalid.
  http_endpoint(const std::string& addr, std::shared_ptr<worker_metrics> metrics);
  ~http_endpoint();

  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

} // namespace quel
