#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/worker_harness.hpp"

/// What the end-to-end tests of `quel-worker status` share: polling for a
/// condition, and the status document of a real `status --json` run.
namespace quel::test {

/// Polls `done` every 100 ms for up to `limit`; true when it held.
inline bool eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds{30}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

/// `quel-worker status --json [extra...]` against the harness's Redis and
/// PostgreSQL, parsed; fails the test when it does not exit 0 with a JSON
/// object.
inline nlohmann::json status_json(worker_harness& h, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"status", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = h.run_worker(args, {}, std::chrono::seconds{30});
  INFO("status stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(doc.is_object());
  return doc;
}

} // namespace quel::test
