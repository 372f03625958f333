#pragma once

#include <chrono>
#include <string>
#include <vector>

/// Fault injection for chaos drills and the fault suite (tests/fault/): off
/// by default, enabled only by configuration ([faults] in worker.ini).
///
/// Crash points sit between the worker's side effects; when one is armed,
/// reaching it kills the process with SIGKILL (no cleanup, like the OOM
/// killer or a power cut) with the configured probability. Adapter faults add
/// latency to, and fail a share of, the calls to each external system.
namespace quel::fault {

/// Every crash point, in the order a job meets them.
const std::vector<std::string>& crash_point_names();

struct adapter_faults {
  double failure_rate = 0;                  // share of calls that fail (0..1)
  std::chrono::milliseconds latency{0};     // added before each call
};

struct settings {
  std::vector<std::string> crash_points;    // armed points ("all" = every one)
  double crash_probability = 0;             // chance per pass of an armed point
  adapter_faults redis;
  adapter_faults database;
  adapter_faults storage;
  adapter_faults generator;
};

/// Installs the settings for the process (call once at start-up); throws
/// std::invalid_argument for an unknown crash point.
void configure(const settings& s);

/// True when any fault is configured (logged loudly at start-up).
bool enabled();

/// Kills the process here if `name` is armed and the dice say so.
void crash_point(const char* name);

enum class adapter { redis, database, storage, generator };

/// Sleeps the adapter's latency, then returns true when this call should
/// fail (the caller throws the adapter's own retryable error). For blocking
/// calls on detached actors.
bool should_fail(adapter a);

/// The failure roll alone, without the latency: for asynchronous calls
/// (the Supabase and Gemini actors), which must never sleep.
bool roll_failure(adapter a);

} // namespace quel::fault
