// The fleet-wide model rate limit (generator.max_requests_per_minute): two
// workers sharing one Redis together call the Gemini stand-in no faster
// than the limit, measured at the stand-in by its request arrival times.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;
using namespace std::chrono_literals;

namespace {

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

/// Arrival times (seconds) of the Gemini stand-in's generateContent calls.
std::vector<double> model_arrivals(http_backends& fx) {
  std::vector<double> out;
  auto stats = fx.gemini_stats();  // kept: a range over a temporary's member dangles
  for (auto& t : stats["arrivals"])
    out.push_back(t.get<double>());
  return out;
}

} // namespace

TEST_CASE("two workers together stay under generator.max_requests_per_minute",
          "[e2e][http][gemini][ratelimit]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto input = fx.add_input("inputs/model.png", sample_image("png", 0), std::nullopt);
  // 60 a minute: one call a second for the whole fleet.
  auto env_for = [&](const std::string& node) {
    return fx.h().worker_env(fx.env({{"QUEL_GENERATOR_MAX_REQUESTS_PER_MINUTE", "60"},
                                     {"QUEL_NODE_ID", node}}));
  };
  background_worker a({"run"}, env_for("rate-a"));
  background_worker b({"run"}, env_for("rate-b"));
  auto until = std::chrono::steady_clock::now() + 30s;
  while ((a.log().find("Starting quel-worker") == std::string::npos
          || b.log().find("Starting quel-worker") == std::string::npos)
         && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(50ms);
  std::this_thread::sleep_for(1500ms);  // both takers wait on the queue

  // Twelve model calls over six jobs; ids handed out one at a time, so both
  // workers get jobs (without a limit they take well under two seconds).
  std::vector<std::pair<std::string, std::string>> jobs;
  for (int i = 0; i < 6; ++i) {
    jobs.push_back(make_http_job(fx, "P-RATE-" + std::to_string(i), 2, {input}, 10));
    std::this_thread::sleep_for(100ms);
  }
  until = std::chrono::steady_clock::now() + 60s;
  while (model_arrivals(fx).size() < 12 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(200ms);
  auto arrivals = model_arrivals(fx);
  INFO("model calls: " << fx.gemini_calls() << "\nworker a:\n" << a.log().substr(0, 4000)
                       << "\nworker b:\n" << b.log().substr(0, 4000));
  REQUIRE(arrivals.size() == 12);
  std::sort(arrivals.begin(), arrivals.end());

  // Calls are at least one interval apart (the GCRA reserves slots one
  // second apart on Redis' clock; the stand-in sees them within a few ms),
  // so at most 9 fall into any 8-second window.
  std::string gaps;
  for (size_t i = 1; i < arrivals.size(); ++i) {
    gaps += std::to_string(arrivals[i] - arrivals[i - 1]) + " ";
    CHECK(arrivals[i] - arrivals[i - 1] > 0.9);
  }
  INFO("gaps between model calls (s): " << gaps);
  for (size_t i = 0; i < arrivals.size(); ++i) {
    auto in_window = std::count_if(arrivals.begin(), arrivals.end(), [&](double t) {
      return t >= arrivals[i] && t < arrivals[i] + 8.0;
    });
    CHECK(in_window <= 9);
  }
  // Both workers made calls: the limit is shared, not per process.
  auto a_log = a.log();
  auto b_log = b.log();
  CHECK(occurrences(a_log, "Calling Gemini API") > 0);
  CHECK(occurrences(b_log, "Calling Gemini API") > 0);

  // The calls waited; none failed.
  until = std::chrono::steady_clock::now() + 30s;
  auto all_done = [&] {
    for (auto& [job, org] : jobs)
      if (fx.h().db().job(job)["job_status"] != "completed")
        return false;
    return true;
  };
  while (!all_done() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(200ms);
  CHECK(all_done());
  CHECK(a.stop() == 0);
  CHECK(b.stop() == 0);
}
