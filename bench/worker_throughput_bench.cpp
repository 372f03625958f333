// End-to-end images/s, peak RSS and thread count of the real worker binary
// (`quel-worker run --drain`), and how both scale with the in-flight limit
// when every model call is slow (bench/README.md).
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_stats.hpp"
#include "bench/worker_scenario.hpp"
#include "tests/support/process_env.hpp"
#include "tests/standins/standin_process.hpp"

namespace {

using namespace quel::bench;

struct options {
  int runs = 3;
  int jobs = 50;             // end-to-end scenario
  int slow_local_jobs = 8;   // local generator sleeping latency_ms per image
  int slow_gemini_jobs = 128;
  int latency_ms = 500;
  bool gemini = true;
  bool markdown = false;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

options parse_options(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    auto key = a.substr(0, eq);
    auto num = [&] { return std::stoi(a.substr(eq + 1)); };
    if (key == "--runs" && eq != std::string::npos) opt.runs = num();
    else if (key == "--jobs" && eq != std::string::npos) opt.jobs = num();
    else if (key == "--slow-local-jobs" && eq != std::string::npos) opt.slow_local_jobs = num();
    else if (key == "--slow-gemini-jobs" && eq != std::string::npos) opt.slow_gemini_jobs = num();
    else if (key == "--latency-ms" && eq != std::string::npos) opt.latency_ms = num();
    else if (a == "--no-gemini") opt.gemini = false;
    else if (a == "--markdown") opt.markdown = true;
    else
      throw std::invalid_argument("unknown argument " + a
                                  + " (--runs=N --jobs=N --slow-local-jobs=N"
                                    " --slow-gemini-jobs=N --latency-ms=N --no-gemini"
                                    " --markdown)");
  }
  if (opt.runs < 1 || opt.jobs < 1 || opt.slow_local_jobs < 1 || opt.slow_gemini_jobs < 1)
    throw std::invalid_argument("counts must be at least 1");
  return opt;
}

/// One row of the results: a named configuration and its runs.
struct variant {
  std::string name;
  scenario_settings settings;
  std::vector<scenario_result> runs;
};

double median_of(const variant& v, double (*get)(const scenario_result&)) {
  std::vector<double> xs;
  for (const auto& r : v.runs)
    xs.push_back(get(r));
  return median(xs);
}

std::vector<double> all_of(const variant& v, double (*get)(const scenario_result&)) {
  std::vector<double> xs;
  for (const auto& r : v.runs)
    xs.push_back(get(r));
  return xs;
}

double window_ips(const scenario_result& r) { return r.window_images_per_second; }
double wall_ips(const scenario_result& r) { return r.wall_images_per_second; }
double rss_mb(const scenario_result& r) { return r.usage.peak_rss_kb / 1024.0; }
double threads(const scenario_result& r) { return r.usage.peak_threads; }
double cpu(const scenario_result& r) { return r.usage.cpu_seconds; }

/// Runs every variant of a group `runs` times, interleaved (a, b, a, b...),
/// so slow phases of the shared machine hit all of them alike.
void run_group(worker_scenario& sc, std::vector<variant>& group, int runs) {
  for (int r = 0; r < runs; ++r) {
    for (auto& v : group) {
      auto log = v.name + "-" + std::to_string(r + 1);
      for (auto& c : log)
        if (c == ' ' || c == ',' || c == '=' || c == '/')
          c = '_';
      auto res = sc.run(v.settings, log);
      std::cerr << "  run " << r + 1 << ", " << v.name << ": " << fixed(res.window_images_per_second, 1)
                << " images/s (wall " << fixed(res.wall_images_per_second, 1) << "), peak RSS "
                << fixed(rss_mb(res), 1) << " MB, " << res.usage.peak_threads << " threads\n";
      v.runs.push_back(res);
    }
  }
}

void add_rows(text_table& t, const std::vector<variant>& group, bool ratio) {
  double base = group.empty() ? 0 : median_of(group.front(), window_ips);
  for (const auto& v : group) {
    double m = median_of(v, window_ips);
    auto th = all_of(v, threads);
    auto rss = all_of(v, rss_mb);
    t.add({v.name, std::to_string(v.runs.front().images), fixed(m, 1),
           spread(all_of(v, window_ips), 1), fixed(median_of(v, wall_ips), 1),
           fixed(median(rss), 1) + " (max " + fixed(*std::max_element(rss.begin(), rss.end()), 1)
             + ")",
           fixed(*std::max_element(th.begin(), th.end())), fixed(median_of(v, cpu), 2),
           ratio ? fixed(m / base, 2) : ""});
  }
}

} // namespace

int main(int argc, char** argv) {
  try {
    auto opt = parse_options(argc, argv);
    auto db_url = env_or("QUEL_DATABASE_URL", "");
    auto redis_url = env_or("QUEL_REDIS_URL", "");
    if (db_url.empty() || redis_url.empty())
      throw std::invalid_argument("set QUEL_DATABASE_URL and QUEL_REDIS_URL"
                                  " (scripts/bench.sh starts throwaway servers)");
    auto bin = quel::test::worker_binary();
    auto tmpl = quel::test::make_temp_dir("quel-worker-bench.");
    std::cerr << "worker_throughput_bench: " << bin << ", work dir " << tmpl << '\n';
    worker_scenario sc{db_url, redis_url, bin, tmpl};
    const auto latency = std::to_string(opt.latency_ms);

    std::vector<variant> e2e{{"local generator, defaults", {opt.jobs, {}}, {}}};
    run_group(sc, e2e, opt.runs);

    auto slow = [&](const std::string& name, int jobs, const std::string& inflight,
                    std::map<std::string, std::string> env) {
      env["QUEL_MAX_INFLIGHT_IMAGES"] = inflight;
      // Enough jobs at once that the in-flight limit, not max_jobs (default
      // 16 jobs = 64 images), is what bounds concurrency.
      env["QUEL_WORKER_MAX_JOBS"] = "256";
      return variant{name + ", inflight " + inflight, {jobs, env}, {}};
    };
    std::vector<variant> local_slow{
      slow("local " + latency + " ms", opt.slow_local_jobs, "64",
           {{"QUEL_GENERATOR_LOCAL_LATENCY_MS", latency}}),
      slow("local " + latency + " ms", opt.slow_local_jobs, "512",
           {{"QUEL_GENERATOR_LOCAL_LATENCY_MS", latency}})};
    run_group(sc, local_slow, opt.runs);

    std::vector<variant> gemini_slow;
    if (opt.gemini) {
      quel::test::standin_process gemini("gemini_standin.py",
                                         {"--latency-ms", latency, "--key", "bench-key"});
      std::map<std::string, std::string> env{{"QUEL_GENERATOR", "gemini"},
                                             {"QUEL_GEMINI_BASE_URL", gemini.base_url()},
                                             {"QUEL_GEMINI_API_KEY", "bench-key"}};
      gemini_slow = {slow("gemini stand-in " + latency + " ms", opt.slow_gemini_jobs, "64", env),
                     slow("gemini stand-in " + latency + " ms", opt.slow_gemini_jobs, "512", env)};
      run_group(sc, gemini_slow, opt.runs);
    }

    text_table t({"scenario", "images", "images/s (median)", "min..max", "wall images/s",
                  "peak RSS MB", "peak threads", "CPU s", "vs first of group"});
    add_rows(t, e2e, false);
    add_rows(t, local_slow, true);
    add_rows(t, gemini_slow, true);
    std::cout << "Worker end to end (quel-worker run --drain, 4-image jobs, median of "
              << opt.runs << " interleaved runs)\nmachine: " << machine_summary() << "\n\n"
              << t.render();
    if (opt.markdown)
      std::cout << '\n' << t.markdown();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "worker_throughput_bench: " << e.what() << '\n';
    return 1;
  }
}
