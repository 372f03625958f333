#include "app/api_pool.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>

namespace quel {

api_pool::api_pool(size_t threads, size_t max_queued, std::function<handler()> make_handler)
  : max_queued_(max_queued), make_handler_(std::move(make_handler)) {
  notify_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (notify_fd_ < 0)
    throw std::runtime_error("cannot create the API pool's eventfd");
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this] { run(); });
}

api_pool::~api_pool() {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stop_ = true;
  }
  wake_.notify_all();
  // A thread in the middle of a call finishes it first: every call it makes
  // has a timeout (redis_timeouts, statement_timeout, connect_timeout).
  for (auto& t : threads_)
    t.join();
  ::close(notify_fd_);
}

bool api_pool::submit(uint64_t id, std::string head) {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    if (todo_.size() >= max_queued_)
      return false;
    todo_.emplace_back(id, std::move(head));
  }
  wake_.notify_one();
  return true;
}

std::vector<std::pair<uint64_t, std::string>> api_pool::take_done() {
  uint64_t count = 0;
  (void)!::read(notify_fd_, &count, sizeof(count));
  std::lock_guard<std::mutex> lock{mutex_};
  std::vector<std::pair<uint64_t, std::string>> out;
  out.swap(done_);
  return out;
}

void api_pool::run() {
  handler handle = make_handler_();
  while (true) {
    std::pair<uint64_t, std::string> job;
    {
      std::unique_lock<std::mutex> lock{mutex_};
      wake_.wait(lock, [this] { return stop_ || !todo_.empty(); });
      if (stop_)
        return;
      job = std::move(todo_.front());
      todo_.pop_front();
    }
    std::string reply = handle(job.second);
    {
      std::lock_guard<std::mutex> lock{mutex_};
      done_.emplace_back(job.first, std::move(reply));
    }
    uint64_t one = 1;
    (void)!::write(notify_fd_, &one, sizeof(one));
  }
}

} // namespace quel
