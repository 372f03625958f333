// The byte budget of image work in flight (worker.max_inflight_bytes): the
// real worker against a slow Gemini stand-in, with large inputs in local
// storage and many calls in flight. Peak RSS (VmHWM) grows by at most the
// budget plus a fixed overhead; with the budget effectively off, the same
// load grows it past that bound. And a stage whose inputs make a request
// larger than Gemini accepts fails before any call, charging nothing.
#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <thread>

#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;

namespace {

constexpr int64_t mib = int64_t{1} << 20;

/// VmHWM (peak resident set) of `pid` in bytes; -1 when unreadable.
int64_t peak_rss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stoll(line.substr(6)) * 1024;  // "VmHWM:   123456 kB"
  return -1;
}

/// A PNG signature followed by incompressible bytes: the worker sends
/// inputs to Gemini undecoded, so this is all it looks at.
std::string fake_png(size_t size, unsigned seed) {
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::mt19937_64 rng(seed);
  while (out.size() < size) {
    auto v = rng();
    out.append(reinterpret_cast<const char*>(&v), std::min<size_t>(8, size - out.size()));
  }
  return out;
}

struct memory_run {
  int64_t idle_peak = 0;  // VmHWM once started, before any job
  int64_t peak = 0;       // VmHWM when every job has ended
  double seconds = 0;
  int64_t growth() const { return peak - idle_peak; }
};

/// Runs `jobs` (already created, not queued) on a worker with `extra` env
/// and measures its peak RSS; `finished_before` jobs had ended already.
memory_run run_and_measure(http_backends& fx, const std::vector<std::string>& jobs,
                           int64_t finished_before, const env_map& extra) {
  auto env = fx.h().worker_env(fx.env(extra));
  background_worker worker({"run"}, env);
  memory_run out;
  auto wait_until = [](auto pred, std::chrono::seconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return pred();
  };
  INFO("worker log:\n" << worker.log().substr(0, 4000));
  REQUIRE(wait_until([&] { return worker.log().find("Worker started") != std::string::npos; },
                     std::chrono::seconds{20}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  out.idle_peak = peak_rss(worker.pid());
  REQUIRE(out.idle_peak > 0);
  auto started = std::chrono::steady_clock::now();
  for (auto& job : jobs)
    fx.h().enqueue(job);
  auto target = finished_before + static_cast<int64_t>(jobs.size());
  auto finished = [&] {
    return fx.h().db().count("SELECT count(*) FROM quel_production_jobs "
                             "WHERE job_status IN ('completed', 'failed')") >= target;
  };
  // Generous: the bounded run admits about three images at a time and took
  // 35 s on a loaded 2-core machine.
  bool done = wait_until(finished, std::chrono::seconds{150});
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out.peak = peak_rss(worker.pid());
  CHECK(worker.stop() == 0);
  INFO("worker log tail:\n" << worker.log().substr(worker.log().size() > 4000
                                                      ? worker.log().size() - 4000 : 0));
  REQUIRE(done);
  return out;
}

} // namespace

TEST_CASE("peak RSS stays within the byte budget plus a fixed overhead",
          "[e2e][http][memory]") {
  if (!e2e_services_available())
    return;
  // 20 one-stage jobs of 2 images, each stage with three 4.5 MiB inputs
  // (13.5 MiB raw, an 18 MiB request with base64: under Gemini's 20 MiB).
  // Gemini answers after 1 s, so without a budget all 40 calls and the 20
  // stages' inputs (270 MiB) are in memory at once.
  constexpr int jobs_n = 20;
  constexpr int per_job = 2;
  constexpr int64_t input_bytes = 9 * mib / 2;
  http_backends fx{standin_options{secret_storage_key, 1000}};
  std::vector<int64_t> inputs;
  for (unsigned i = 0; i < 3; ++i)
    inputs.push_back(fx.h().add_input("inputs/big-" + std::to_string(i) + ".png",
                                      fake_png(static_cast<size_t>(input_bytes), i),
                                      std::nullopt));
  auto make_jobs = [&](const std::string& tag) {
    std::vector<std::string> jobs;
    for (int i = 0; i < jobs_n; ++i)
      jobs.push_back(make_http_job(fx, tag + " " + std::to_string(i), per_job, inputs,
                                   per_job, false).first);
    return jobs;
  };
  env_map common{{"QUEL_STORAGE", "local"},
                 {"QUEL_WORKER_MAX_JOBS", std::to_string(jobs_n)},
                 {"QUEL_WORKER_MODULES", "fashion"},
                 {"QUEL_CREDITS_PER_IMAGE", "1"}};

  // One image reserves its inputs (13.5 MiB), the request text (a few KB)
  // and the 16 MiB reply cap: about 29.5 MiB, so 96 MiB admits three.
  constexpr int64_t budget = 96 * mib;
  // Overhead beside the budget, on top of the idle worker's own peak: per
  // call libcurl's upload and receive buffers (tens of KB); the replies
  // being parsed and converted, at most generator.threads (2) at a time;
  // CAF messages; and glibc's per-thread arenas, which keep freed input
  // buffers for reuse rather than returning them at once. 64 MiB is
  // several times what these came to when measured (docs/SECURITY.md, 7).
  constexpr int64_t overhead = 64 * mib;

  auto with_env = common;
  with_env["QUEL_WORKER_MAX_INFLIGHT_BYTES"] = std::to_string(budget);
  auto bounded = run_and_measure(fx, make_jobs("bounded"), 0, with_env);

  auto without_env = common;
  without_env["QUEL_WORKER_MAX_INFLIGHT_BYTES"] = std::to_string(int64_t{1} << 40);
  auto unbounded = run_and_measure(fx, make_jobs("unbounded"), jobs_n, without_env);

  WARN("budget " << budget / mib << " MiB: idle peak " << bounded.idle_peak / mib
                 << " MiB, peak " << bounded.peak / mib << " MiB (growth "
                 << bounded.growth() / mib << " MiB) in " << bounded.seconds
                 << " s; budget off: idle peak " << unbounded.idle_peak / mib << " MiB, peak "
                 << unbounded.peak / mib << " MiB (growth " << unbounded.growth() / mib
                 << " MiB) in " << unbounded.seconds << " s");
  auto& db = fx.h().db();
  CHECK(db.count("SELECT count(*) FROM quel_production_jobs WHERE job_status = 'completed'")
        == 2 * jobs_n);
  CHECK(db.count("SELECT coalesce(sum(completed_images), 0) FROM quel_production_jobs")
        == 2 * jobs_n * per_job);
  CHECK(fx.gemini_calls() == 2 * jobs_n * per_job);
  CHECK(bounded.growth() <= budget + overhead);
  INFO("the same load without the budget must exceed the bound, or the test shows nothing");
  CHECK(unbounded.growth() > budget + overhead);
}

TEST_CASE("inputs making a request over Gemini's 20 MiB fail before any call",
          "[e2e][http][memory]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  // Two 8 MiB inputs: 16 MiB raw, 21.3 MiB as base64.
  std::vector<int64_t> inputs;
  for (unsigned i = 0; i < 2; ++i)
    inputs.push_back(fx.h().add_input("inputs/half-" + std::to_string(i) + ".png",
                                      fake_png(static_cast<size_t>(8 * mib), 10 + i),
                                      std::nullopt));
  auto [job, org] = make_http_job(fx, "too large", 2, inputs, 10, true);
  fx.drain({{"QUEL_STORAGE", "local"}});
  auto& db = fx.h().db();
  auto row = db.job(job);
  CHECK(row["job_status"] == "failed");
  REQUIRE(row["error_message"].is_string());
  auto message = row["error_message"].get<std::string>();
  CHECK_THAT(message, Catch::Contains("request too large for the model"));
  CHECK_THAT(message, Catch::Contains("20971520 bytes Gemini accepts"));
  CHECK(fx.gemini_calls() == 0);
  CHECK(db.count("SELECT count(*) FROM quel_credit_log WHERE reason = 'image_generation'") == 0);
  CHECK(db.org_credit(org) == 10);
}
