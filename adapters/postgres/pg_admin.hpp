#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quel {

class pg_connection;

/// A job in `processing`, as `quel-worker status` shows it.
struct job_in_flight {
  std::string job_id;
  int completed_images = 0;
  int failed_images = 0;
  int total_images = 0;
  std::optional<std::string> owner_node;        // no worker row yet: nullopt
  std::optional<std::string> lease_expires_at;  // ISO-8601 UTC
  bool lease_live = false;                      // lease_expires_at > now()
};

/// Read-mostly queries for the command line and the reconciler, on one lazily
/// opened connection (same rules as pg_store: exec_params only, one round
/// trip per call, database_unavailable when the server is gone).
class pg_admin {
public:
  /// Does not connect yet: the first call does.
  explicit pg_admin(const std::string& database_url);
  ~pg_admin();

  pg_admin(const pg_admin&) = delete;
  pg_admin& operator=(const pg_admin&) = delete;

  /// Processing jobs with their progress and lease, oldest first.
  std::vector<job_in_flight> jobs_in_flight();

  /// `job_input_data->>'module'` of a job; nullopt when the job does not
  /// exist or names no module (CONTRACT.md rule 5).
  std::optional<std::string> module_of_job(const std::string& job_id);

  /// Ids of pending or processing jobs created more than `seconds` ago that
  /// no live lease covers, oldest first, at most `limit` of them.
  std::vector<std::string> unfinished_jobs_older_than(double seconds, int limit = 1000);

  /// True when the database answers `SELECT 1`; never throws for an outage.
  bool ping();

private:
  std::unique_ptr<pg_connection> db_;
};

} // namespace quel
