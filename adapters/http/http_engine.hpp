#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "adapters/http/http_message.hpp"

namespace quel {

/// Options of one engine; the defaults suit thousands of transfers to a
/// handful of hosts.
struct http_engine_options {
  // Idle connections kept for reuse; must cover the peak number of
  // concurrent transfers or keep-alive is lost exactly under load.
  long max_connections = 4096;
  std::string user_agent = "quel-worker";
};

/// Many concurrent HTTP transfers on one libcurl multi handle, driven by the
/// single thread that calls run_once()/run_until(); no thread per request.
///
/// submit(), cancel(), cancel_all() and wakeup() may be called from any
/// thread. Completion callbacks run on the engine thread, once per submitted
/// request (also when cancelled), and may submit new requests.
///
/// A request with `reply_bytes` receives its body only as far as the byte
/// budget holds it: a part that does not fit pauses that transfer
/// (CURL_WRITEFUNC_PAUSE, so libcurl stops reading its socket) until the
/// budget reports bytes back; the other transfers go on.
class http_engine {
public:
  using callback = std::function<void(http_response&&)>;

  explicit http_engine(http_engine_options opts = {});
  ~http_engine();  // drops unfinished transfers without calling back

  http_engine(const http_engine&) = delete;
  http_engine& operator=(const http_engine&) = delete;

  /// Queues a request and wakes the loop; returns an id for cancel().
  uint64_t submit(http_request request, callback done);

  /// Runs transfers for at most about `max_wait` and calls back finished ones.
  void run_once(std::chrono::milliseconds max_wait);

  /// Calls run_once until `stop` is true (set it, then call wakeup()).
  void run_until(const std::atomic<bool>& stop);

  /// Makes a blocked run_once return promptly.
  void wakeup();

  /// Transfers submitted and not yet called back.
  size_t in_flight() const { return in_flight_.load(); }

  /// Ends one transfer with failure::cancelled (no-op if already finished).
  void cancel(uint64_t id);

  /// Ends every unfinished transfer with failure::cancelled.
  void cancel_all();

  /// Transfers paused now for want of budget (tests, metrics).
  size_t paused() const { return paused_count_.load(); }

private:
  struct transfer;
  struct budget_wakeup;

  bool reserve_reply(transfer& t, int64_t needed);
  void resume_paused();

  void start_pending();
  void apply_cancellations();
  void collect_finished();
  void finish(transfer* t, http_response&& r);

  http_engine_options opts_;
  void* multi_;  // CURLM*, kept opaque so callers need no curl headers
  std::atomic<size_t> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};

  std::mutex mtx_;  // guards the three queues below
  std::vector<std::unique_ptr<transfer>> pending_;
  std::vector<uint64_t> cancel_ids_;
  bool cancel_everything_ = false;

  // Engine thread only.
  std::unordered_map<uint64_t, std::unique_ptr<transfer>> running_;
  std::vector<uint64_t> paused_ids_;
  std::atomic<size_t> paused_count_{0};
  std::chrono::steady_clock::time_point next_paused_check_;

  // How the budget wakes this engine; outlives it in the budget's lists.
  std::shared_ptr<budget_wakeup> budget_wakeup_;
  budget_waker waker_;
};

} // namespace quel
