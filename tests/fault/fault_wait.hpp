#pragma once

#include <chrono>
#include <thread>

namespace quel::test {

/// Polls `done` every 100 ms until it returns true or `timeout` passes, and
/// asks once more at the end. A fault test waits for the condition it needs
/// this way (bounded) instead of sleeping for a time that assumes how fast
/// the machine is: on a busy 2-core runner a worker may be several times
/// slower than on an idle one.
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
