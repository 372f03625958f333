#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "actors/worker_metrics.hpp"

namespace quel {

/// Bounds that keep slow or many clients from starving /healthz
/// (docs/SECURITY.md, "HTTP endpoint").
struct http_endpoint_limits {
  /// Open connections at most; a new one beyond it closes the oldest, so a
  /// fresh probe always gets in however many clients stall.
  size_t max_connections = 64;
  /// Time from accept to the end of the request head, and to the end of the
  /// reply: a client that trickles bytes is cut off at this deadline.
  std::chrono::milliseconds deadline{2000};
  /// Longest request head (request line and headers).
  size_t max_head_bytes = 8192;
  /// Time from accept to the end of the reply of a dashboard `/api/...`
  /// request, which waits for the API pool (a thumbnail may take a while).
  std::chrono::milliseconds api_deadline{15000};
};

class api_pool;

/// /metrics (Prometheus text), /healthz (the process runs and its actor
/// scheduler's heartbeat is recent: worker_metrics::stalled_for) and /readyz
/// (Redis and PostgreSQL reachable, not shutting down) on a thread of its own,
/// and the dashboard: its embedded page at `/` (answered on this thread, from
/// memory) and its JSON API at `/api/...` (answered by an api_pool).
///
/// One thread polls every connection without blocking on any of them; each
/// connection carries one GET or HEAD request and is then closed. Nothing a
/// client sends or withholds can hold the thread.
class http_endpoint {
public:
  /// Binds `addr` (host:port) at once; throws std::runtime_error naming the
  /// address when it is in use or invalid.
  /// With `api`, `/api/...` requests are handed to its threads (the poll
  /// thread only moves bytes); without, they are 404.
  http_endpoint(const std::string& addr, std::shared_ptr<worker_metrics> metrics,
                http_endpoint_limits limits = {}, std::unique_ptr<api_pool> api = nullptr);
  ~http_endpoint();

  /// The port listened on (the one chosen when `addr` gave port 0).
  int port() const;

  http_endpoint(const http_endpoint&) = delete;
  http_endpoint& operator=(const http_endpoint&) = delete;

private:
  void run();

  std::shared_ptr<worker_metrics> metrics_;
  http_endpoint_limits limits_;
  std::unique_ptr<api_pool> api_;
  bool loopback_ = false;  // bound to loopback: the dashboard checks Host
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: the destructor wakes the poll loop
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// The reply to one request head (`GET /healthz HTTP/1.1\r\n...`), a whole
/// HTTP/1.1 response with `Connection: close`; the dashboard's static files
/// too. Exposed for tests.
std::string http_endpoint_reply(const std::string& head, const worker_metrics& metrics);

} // namespace quel
