#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/worker_harness.hpp"

/// Checks of CONTRACT.md section 6 shared by the end-to-end scenarios. They
/// read the database and storage with their own SQL, so that they depend on
/// the contract's schema only.
namespace quel::test {

/// One row of a query, NULL as nullopt.
using sql_row = std::vector<std::optional<std::string>>;

/// Runs `sql` on the test database outside any transaction.
std::vector<sql_row> query(worker_harness& h, const std::string& sql);

/// The one value of a one-row, one-column query (FAILs otherwise).
std::optional<std::string> query_value(worker_harness& h, const std::string& sql);

/// The job's row as column name -> text (NULL as nullopt).
std::map<std::string, std::optional<std::string>> job_row(worker_harness& h,
                                                         const std::string& job_id);

/// A JSONB array column of numbers as int64s.
std::vector<int64_t> json_ids(const std::optional<std::string>& text);

/// What a job that ran (did not fail validation) is expected to have made.
struct expected_run {
  std::string job_id;
  std::optional<std::string> org_id;
  std::string production_id;
  std::vector<int64_t> existing_attach_ids;  // production's ids before the run
  std::vector<std::pair<int, int>> stages;   // (stage_index, quantity)
  int64_t cost = 1;
  int64_t balance_before = 0;
  std::string extension = "webp";
  std::string mime = "image/webp";
};

/// Checks a job that ran: every image it made has one attach row, one stored
/// object of the right format and one charge; counters, timestamps and the
/// production's ids and order agree; the job is finished. Returns the
/// (stage_index, image index) pairs that were made.
std::set<std::pair<int, int>> check_outputs(worker_harness& h, const expected_run& e);

/// check_outputs plus: job and production `completed`, every image made,
/// error_message NULL.
void check_completed(worker_harness& h, const expected_run& e);

/// Checks a job that failed validation: failed straight away with counters 0,
/// completed_at set, production failed, nothing charged. Each group of
/// `needles` must have a member in error_message (case-insensitive).
void check_invalid(worker_harness& h, const std::string& job_id,
                   const std::string& production_id,
                   const std::optional<std::string>& org_id, int64_t balance_before,
                   const std::vector<std::vector<std::string>>& needles);

/// No queue or processing list left holding entries.
void check_lists_empty(worker_harness& h);

/// Whether `bytes` are of `mime` by their signature (webp, png, jpeg).
bool bytes_are(const std::string& bytes, const std::string& mime);

} // namespace quel::test
