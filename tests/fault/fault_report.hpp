#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace quel::test {

/// What one fault scenario did and what the invariant check found; every
/// count after `faults` must be 0.
struct scenario_result {
  std::string scenario;
  int jobs = 0;
  int completed = 0;
  int failed = 0;            // failed for another reason than quarantine
  int quarantined = 0;       // failed after repeated crashes (finished, listed)
  long images = 0;           // images made (exactly-once markers)
  int kills = 0;             // worker processes ended by SIGKILL
  int faults = 0;            // other disruptions: restarts, proxy phases, pauses
  int lost = 0;              // jobs not finished, images short of total
  int duplicated = 0;        // attach rows, ids or objects beyond one per image
  int double_charged = 0;    // charges beyond one per image made
  int orphaned = 0;          // stored objects that belong to no image made
  int stuck = 0;             // jobs left 'processing'
  int leftovers = 0;         // Redis list entries, holds, dead letters left over
  double seconds = 0;
  std::vector<std::string> problems;       // one line per violation found
  std::vector<std::string> quarantined_ids;

  /// True when every must-be-zero count is zero and no problem was noted.
  bool clean() const;
};

/// The table header line (stable format, '|'-separated).
std::string report_header();

/// One table row for `r`.
std::string report_row(const scenario_result& r);

/// Prints `r` (header, row, problems, quarantined jobs) to stdout, appends the
/// same to $QUEL_FAULT_REPORT when set, and keeps it for the run's summary.
void publish(const scenario_result& r);

/// Ends a scenario: adds the scenario's own `problems` to what the invariant
/// check found in `r`, records the seconds since `started`, publishes `r`
/// and attaches every problem to the test's next assertion (the caller's
/// REQUIRE(r.clean())).
void conclude(scenario_result& r, const std::vector<std::string>& problems,
              std::chrono::steady_clock::time_point started);

/// The random seed of a scenario: $QUEL_FAULT_SEED when set (to replay a
/// run), else a fresh one; printed with the scenario's name either way.
uint32_t fault_seed(const std::string& scenario);

/// Every result published so far in this process.
const std::vector<scenario_result>& published_results();

} // namespace quel::test
