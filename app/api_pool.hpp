#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace quel {

/// A few threads that answer the dashboard's `/api/...` requests, so that
/// the HTTP endpoint's poll thread never waits on Redis, PostgreSQL, storage
/// or libvips and /healthz stays responsive. Each thread builds its own
/// handler once (its own connections, each with timeouts); requests beyond
/// `max_queued` waiting ones are refused at once (503) rather than queued
/// without bound. Finished replies are collected by the poll thread, which
/// is woken through an eventfd.
class api_pool {
public:
  /// Turns a request head into a whole HTTP response.
  using handler = std::function<std::string(const std::string& head)>;

  api_pool(size_t threads, size_t max_queued, std::function<handler()> make_handler);
  ~api_pool();

  api_pool(const api_pool&) = delete;
  api_pool& operator=(const api_pool&) = delete;

  /// Readable when take_done() has something.
  int notify_fd() const { return notify_fd_; }

  /// Queues a request; false when `max_queued` are already waiting (not yet
  /// taken by a thread).
  bool submit(uint64_t id, std::string head);

  /// The replies finished since the last call (id, response); clears the
  /// eventfd.
  std::vector<std::pair<uint64_t, std::string>> take_done();

private:
  void run();

  size_t max_queued_;
  std::function<handler()> make_handler_;
  int notify_fd_ = -1;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<uint64_t, std::string>> todo_;
  std::vector<std::pair<uint64_t, std::string>> done_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

} // namespace quel
