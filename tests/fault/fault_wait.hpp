#pragma once

#include <chrono>
#include <thread>

namespace quel::test {

/// Polls `done` every 100 ms for up to `timeout`; its last answer.
template <class F>
bool eventually(F done, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

} // namespace quel::test
