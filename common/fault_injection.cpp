#include "common/fault_injection.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "common/log.hpp"

namespace quel::fault {

namespace {

// Written once at start-up before any actor runs, read-only afterwards.
settings g_settings;
std::atomic<bool> g_enabled{false};

double uniform() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

bool armed(const char* name) {
  for (auto& p : g_settings.crash_points)
    if (p == "all" || p == name)
      return true;
  return false;
}

const adapter_faults& faults_of(adapter a) {
  switch (a) {
    case adapter::redis: return g_settings.redis;
    case adapter::database: return g_settings.database;
    case adapter::storage: return g_settings.storage;
    case adapter::generator: return g_settings.generator;
  }
  return g_settings.redis;
}

} // namespace

const std::vector<std::string>& crash_point_names() {
  static const std::vector<std::string> names = {
    "after_take",      // id moved to the processing list, job not claimed
    "after_claim",     // lease taken (epoch + 1), nothing started
    "after_start",     // job and production marked processing
    "after_hold",      // credits held, model not called
    "after_generate",  // model paid for, image not stored
    "after_upload",    // object stored, not committed
    "after_commit",    // image, charge and progress committed
    "after_finish",    // job finished in PostgreSQL, id not acked in Redis
  };
  return names;
}

void configure(const settings& s) {
  auto& names = crash_point_names();
  for (auto& p : s.crash_points)
    if (p != "all" && std::find(names.begin(), names.end(), p) == names.end())
      throw std::invalid_argument("unknown crash point \"" + p + "\"");
  g_settings = s;
  bool any = (!s.crash_points.empty() && s.crash_probability > 0);
  for (auto* f : {&s.redis, &s.database, &s.storage, &s.generator})
    any = any || f->failure_rate > 0 || f->latency.count() > 0;
  g_enabled = any;
}

bool enabled() { return g_enabled; }

void crash_point(const char* name) {
  if (!g_enabled || !armed(name) || uniform() >= g_settings.crash_probability)
    return;
  log::error(std::string{"fault injection: crashing at "} + name);
  ::kill(::getpid(), SIGKILL);
  std::_Exit(137); // not reached
}

bool should_fail(adapter a) {
  if (!g_enabled)
    return false;
  auto& f = faults_of(a);
  if (f.latency.count() > 0)
    std::this_thread::sleep_for(f.latency);
  return roll_failure(a);
}

bool roll_failure(adapter a) {
  if (!g_enabled)
    return false;
  auto& f = faults_of(a);
  return f.failure_rate > 0 && uniform() < f.failure_rate;
}

} // namespace quel::fault
