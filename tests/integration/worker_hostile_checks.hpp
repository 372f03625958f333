#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/worker_checks.hpp"

/// The invariants every row of the hostile-input table ends with
/// (docs/SECURITY.md section 8), whatever the row's own recorded reason:
/// nothing lost, nothing charged that should not be, no hold left, the
/// worker's own output sane.
namespace quel::test {

/// The job is not lost: it is `completed` or `failed` with completed_at set,
/// its counters add up, no credit hold of it is left, and it was charged
/// `cost` for each image it made and for nothing else (credit log rows,
/// generated_attach_ids and the organisation's balance agree).
void check_row_invariants(worker_harness& h, const std::string& job_id,
                          const std::optional<std::string>& org_id, int64_t balance_before,
                          int64_t cost = 1);

/// Entries of jobs:dead by id (FAILs on an entry that is not a JSON object
/// with id, queue, reason and at).
std::map<std::string, nlohmann::json> dead_letters_by_id(worker_harness& h);

/// Every line of a human log is at most `max_line` bytes, holds no raw
/// control character but tab, and none starts with one of `forged` (text a
/// hostile value carried after a newline).
void check_log_lines_safe(const std::string& log, size_t max_line,
                          const std::vector<std::string>& forged);

/// No hold of any job is left (quel_worker_credit_hold is empty).
void check_no_holds(worker_harness& h);

} // namespace quel::test
