// Catch2's listener interface is only compiled in with this switch, and only
// this file uses it.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "tests/fault/fault_report.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>

#include <catch2/catch.hpp>

#include "common/utc_time.hpp"

namespace quel::test {

namespace {

std::mutex g_mutex;
std::vector<scenario_result> g_results;

std::string pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string num(long v, size_t width) {
  auto s = std::to_string(v);
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

void emit(const std::string& text) {
  std::cout << text << std::flush;
  const char* path = std::getenv("QUEL_FAULT_REPORT");
  if (path != nullptr && *path != '\0') {
    std::ofstream out(path, std::ios::app);
    out << text;
  }
}

scenario_result total_of(const std::vector<scenario_result>& all) {
  scenario_result t;
  t.scenario = "TOTAL";
  for (auto& r : all) {
    t.jobs += r.jobs;
    t.completed += r.completed;
    t.failed += r.failed;
    t.quarantined += r.quarantined;
    t.images += r.images;
    t.kills += r.kills;
    t.faults += r.faults;
    t.lost += r.lost;
    t.duplicated += r.duplicated;
    t.double_charged += r.double_charged;
    t.orphaned += r.orphaned;
    t.stuck += r.stuck;
    t.leftovers += r.leftovers;
    t.seconds += r.seconds;
    t.problems.insert(t.problems.end(), r.problems.begin(), r.problems.end());
  }
  return t;
}

} // namespace

bool scenario_result::clean() const {
  return lost == 0 && duplicated == 0 && double_charged == 0 && orphaned == 0 && stuck == 0
         && leftovers == 0 && failed == 0 && problems.empty();
}

std::string report_header() {
  return "| " + pad("scenario", 22)
         + " | jobs | done | failed | quar | images | kills | faults | lost | duplicated"
           " | double-charged | orphaned | stuck | leftovers | seconds | verdict |";
}

std::string report_row(const scenario_result& r) {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%7.1f", r.seconds);
  return "| " + pad(r.scenario, 22) + " | " + num(r.jobs, 4) + " | " + num(r.completed, 4)
         + " | " + num(r.failed, 6) + " | " + num(r.quarantined, 4) + " | "
         + num(r.images, 6) + " | " + num(r.kills, 5) + " | " + num(r.faults, 6) + " | "
         + num(r.lost, 4) + " | " + num(r.duplicated, 10) + " | "
         + num(r.double_charged, 14) + " | " + num(r.orphaned, 8) + " | "
         + num(r.stuck, 5) + " | " + num(r.leftovers, 9) + " | " + secs + " | "
         + (r.clean() ? "PASS   " : "FAIL   ") + " |";
}

void conclude(scenario_result& r, const std::vector<std::string>& problems,
              std::chrono::steady_clock::time_point started) {
  r.problems.insert(r.problems.end(), problems.begin(), problems.end());
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  publish(r);
  for (auto& p : r.problems)
    UNSCOPED_INFO(p);
}

void publish(const scenario_result& r) {
  std::ostringstream out;
  out << "\nFAULT-SUITE scenario " << r.scenario << " (" << utc_now_iso() << ")\n"
      << report_header() << "\n" << report_row(r) << "\n";
  for (auto& id : r.quarantined_ids)
    out << "  quarantined: " << id << "\n";
  for (auto& p : r.problems)
    out << "  VIOLATION: " << p << "\n";
  emit(out.str());
  std::lock_guard<std::mutex> guard{g_mutex};
  g_results.push_back(r);
}

const std::vector<scenario_result>& published_results() {
  return g_results;
}

/// Prints the summary table of every scenario that ran, once the run ends.
struct fault_summary_listener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testRunEnded(const Catch::TestRunStats& stats) override {
    std::lock_guard<std::mutex> guard{g_mutex};
    if (!g_results.empty()) {
      std::ostringstream out;
      out << "\nFAULT-SUITE SUMMARY (" << utc_now_iso() << ")\n" << report_header() << "\n";
      for (auto& r : g_results)
        out << report_row(r) << "\n";
      out << report_row(total_of(g_results)) << "\n";
      emit(out.str());
    }
    TestEventListenerBase::testRunEnded(stats);
  }
};

CATCH_REGISTER_LISTENER(fault_summary_listener)

uint32_t fault_seed(const std::string& scenario) {
  uint32_t seed = std::random_device{}();
  if (const char* s = std::getenv("QUEL_FAULT_SEED"))
    seed = static_cast<uint32_t>(std::strtoul(s, nullptr, 10));
  std::cout << "fault suite: " << scenario << " seed " << seed << " (QUEL_FAULT_SEED)\n";
  return seed;
}

} // namespace quel::test
