#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

/// What the operator commands (`status`, `retry`, `cancel`) read and do in
/// PostgreSQL, on one lazily opened connection (same rules as pg_admin:
/// exec_params only, one round trip per call, database_unavailable when the
/// server is gone; a view takes a few round trips). Actions are SQL
/// functions of migration 005, one round trip each.
namespace quel {

class pg_connection;

/// An image the worker committed (its exactly-once marker).
struct made_image_row {
  int stage_index = 0;
  int image_index = 0;
  int64_t attach_id = 0;
  std::string object_key;
  std::string committed_at;  // ISO-8601 UTC
  std::optional<int> attempts;  // nullopt: committed before migration 006
};

/// An image the job gave up (quel_worker_image_failure, written by its finish).
struct failed_image_row {
  int stage_index = 0;
  int image_index = 0;
  std::optional<int> attempts;  // nullopt: unknown
  std::string reason;
};

/// Credits reserved for an image being made.
struct hold_row {
  int stage_index = 0;
  int image_index = 0;
  int64_t amount = 0;
};

/// One quel_credit_log row of a job.
struct credit_log_row {
  int64_t amount = 0;
  int64_t balance_after = 0;
  std::optional<int64_t> attach_id;
  std::string reason;
  std::string created_at;
};

/// A job row with the worker's bookkeeping around it.
struct job_view {
  std::string job_id;
  std::string job_type;
  std::string status;
  std::optional<std::string> module;         // job_input_data.module
  std::optional<std::string> org_id;
  std::optional<std::string> production_id;
  std::string input_json;                    // job_input_data as text
  int total_images = 0;
  int completed_images = 0;
  int failed_images = 0;
  std::optional<std::string> error_message;
  std::string created_at;
  std::optional<std::string> started_at;
  std::optional<std::string> completed_at;
  std::string updated_at;
  std::optional<double> running_seconds;     // now - started_at
  // quel_worker_job (nullopt/0 before the first claim)
  std::optional<std::string> owner_node;
  std::optional<std::string> lease_expires_at;
  bool lease_live = false;
  int64_t epoch = 0;
  int claims = 0;                            // attempts: claims since the last retry
  std::vector<made_image_row> made;          // (stage, image) order
  std::vector<hold_row> holds;
  std::vector<failed_image_row> failures;    // only with `full` (job())
  std::vector<credit_log_row> credit_log;    // oldest first; only with `full`
  int64_t credit_sum = 0;                    // sum of its credit-log amounts (recent_jobs)
};

/// The outcome of cancel_idle / retry for one job.
struct job_action_result {
  std::string outcome;                 // see 005_job_admin.sql
  std::optional<std::string> status;   // the job's status
  std::optional<std::string> owner;    // cancel: the node running it
  std::optional<std::string> module;   // retry: job_input_data.module
};

/// Counts per minute, oldest minute first (for the dashboard's chart).
struct minute_count {
  std::string minute;  // ISO-8601 UTC, start of the minute
  int64_t images = 0;  // images committed in it
  int64_t jobs = 0;    // jobs finished in it
};

/// Failed jobs sharing one error message.
struct failure_count {
  std::string reason;
  int64_t jobs = 0;
};

/// One page of jobs, newest first.
struct job_page {
  int64_t total = 0;                         // jobs matching the filter
  std::vector<job_view> jobs;                // with `made`, without credit log
};

class pg_job_admin {
public:
  /// Does not connect yet: the first call does. A `statement_timeout_ms`
  /// above 0 bounds every statement of this connection (the dashboard's
  /// API threads must not wait on a slow query for long).
  explicit pg_job_admin(const std::string& database_url, int statement_timeout_ms = 0);
  ~pg_job_admin();

  pg_job_admin(const pg_job_admin&) = delete;
  pg_job_admin& operator=(const pg_job_admin&) = delete;

  /// One job with its made images, holds and credit-log rows; nullopt when
  /// there is no such job (or `job_id` is not a UUID).
  std::optional<job_view> job(const std::string& job_id);

  /// Every processing job (oldest first, at most `limit`) with its made
  /// images, without credit-log rows.
  std::vector<job_view> processing_jobs(int limit = 200);

  /// Seconds since the job row's updated_at, i.e. since it was created (a
  /// fresh pending job), retried, or last written by a worker (an id put
  /// back after a shutdown). nullopt when there is no such row.
  std::optional<double> seconds_since_update(const std::string& job_id);

  /// quel_worker_cancel_idle: ends the job `cancelled` unless a live worker
  /// runs it.
  job_action_result cancel_idle(const std::string& job_id);

  /// quel_worker_retry: a failed job back to pending.
  job_action_result retry(const std::string& job_id);

  /// Jobs newest first, `offset` skipped, at most `limit`; only those with
  /// `status` when it is given (pending, processing, completed, failed).
  job_page recent_jobs(int limit, int offset, const std::optional<std::string>& status);

  /// Images committed and jobs finished per minute over the last `minutes`
  /// minutes (every minute listed, zeros included).
  std::vector<minute_count> throughput(int minutes);

  /// Images committed and jobs finished in the last 60 seconds.
  minute_count last_minute();

  /// Failed jobs of the last `hours` hours grouped by error message (its
  /// first 120 characters), most frequent first, at most `limit`.
  std::vector<failure_count> failure_reasons(int hours, int limit);

  /// The storage key of an uploaded input (quel_attach), nullopt when there
  /// is no such row or it has no key.
  std::optional<std::string> attach_key(int64_t attach_id);

  /// Sets the session's statement_timeout (when one was given): called
  /// before each batch of calls, since a broken connection is replaced by a
  /// new session without it.
  void apply_statement_timeout();

private:
  std::unique_ptr<pg_connection> db_;
  int statement_timeout_ms_ = 0;
};

} // namespace quel
