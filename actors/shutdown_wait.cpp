#include "actors/shutdown_wait.hpp"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace quel {

steady_time actors_wait_limit(std::optional<steady_time> stop_requested, steady_time settled,
                              std::chrono::milliseconds shutdown_deadline,
                              std::chrono::milliseconds take_timeout,
                              std::chrono::milliseconds grace) {
  auto start = stop_requested.value_or(settled);
  auto deadline = stop_requested ? *stop_requested + shutdown_deadline : settled;
  auto last_take = start + take_timeout;
  return std::max({deadline, last_take, settled}) + grace;
}

bool await_actors_until(caf::actor_system& sys, steady_time limit) {
  // await_all_actors_done() has no timeout: it runs on a thread of its own,
  // which is left behind (with the system) when the limit passes first.
  struct shared {
    std::mutex mutex;
    std::condition_variable changed;
    bool done = false;
  };
  auto state = std::make_shared<shared>();
  std::thread waiter([&sys, state] {
    sys.await_all_actors_done();
    std::lock_guard<std::mutex> guard{state->mutex};
    state->done = true;
    state->changed.notify_all();
  });
  std::unique_lock<std::mutex> lock{state->mutex};
  if (state->changed.wait_until(lock, limit, [&] { return state->done; })) {
    lock.unlock();
    waiter.join();
    return true;
  }
  waiter.detach();
  return false;
}

} // namespace quel
