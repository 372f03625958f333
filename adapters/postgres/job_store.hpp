#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

/// PostgreSQL is the system of record. These ports are what the actors need
/// from it; pg_store implements them with libpqxx, one statement (or one SQL
/// function of config/migrations) per step, exec_params only. No CAF here.
namespace quel {

/// The database could not be reached or the connection broke; the caller
/// waits and retries (a database outage never fails or dead-letters a job).
class database_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A statement failed for another reason than an outage. `retryable` when a
/// later attempt can pass (a lock or statement timeout, the server short of
/// resources); otherwise the one request fails for good with this reason.
class database_error : public std::runtime_error {
public:
  database_error(const std::string& what, std::string sqlstate, bool retryable)
    : std::runtime_error(what), sqlstate_(std::move(sqlstate)), retryable_(retryable) {
  }
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  bool retryable() const noexcept { return retryable_; }

private:
  std::string sqlstate_;
  bool retryable_;
};

/// A job row, with the lease this worker now holds on it.
struct claimed_job {
  enum class outcome {
    claimed,           // this worker holds the job under `epoch`
    missing,           // no row with this id
    finished,          // completed or failed already: drop the id
    leased_elsewhere,  // another node holds a live lease (see owner_node)
    quarantined,       // claimed too often (crash loop): failed by the claim
  };
  outcome result = outcome::missing;
  std::string job_id;
  std::string job_type;
  std::string input_json;
  std::optional<std::string> org_id;
  std::optional<std::string> production_id;
  std::string status;   // status before the claim
  int64_t epoch = 0;    // fencing token: every later write names it
  int attempts = 0;     // how many times the job has been claimed
  /// leased_elsewhere only: the node holding the lease and how long it has
  /// left, so the caller can wait for it to expire when that node does not
  /// hold the id any more (a crashed process whose ids were handed back).
  std::string owner_node;
  std::chrono::milliseconds lease_left{0};
};

struct attach_row {
  int64_t attach_id = 0;
  std::optional<std::string> file_path;
  std::optional<std::string> directory;
};

/// An output image already committed (for resuming a job after a crash).
struct committed_image {
  int stage_index = 0;
  int image_index = 0;
  int64_t attach_id = 0;
  std::string object_key;
};

/// Everything committed for one output image, in one transaction.
struct image_commit {
  std::string job_id;
  int64_t epoch = 0;
  int stage_index = 0;
  int image_index = 0;
  std::string object_key;
  std::string file_name;
  std::string mime_type;
  int64_t size_bytes = 0;
  std::optional<std::string> org_id;
  int64_t cost = 0;
};

struct commit_result {
  enum class outcome {
    committed,
    already_committed,     // committed earlier (attach_id is that row's)
    lease_lost,            // fenced: another worker owns the job now
    insufficient_credits,  // the balance cannot pay for it (nothing written)
  };
  outcome result = outcome::committed;
  int64_t attach_id = 0;
  int completed_images = 0;
  int total_images = 0;
  std::optional<int64_t> balance_after;
};

enum class hold_outcome { held, insufficient_credits, lease_lost };

struct job_finish {
  std::string job_id;
  int64_t epoch = 0;
  bool completed = false;
  std::optional<std::string> error_message;
  /// The job's images in (stage_index, image_index) order, appended to the
  /// production's attach_ids after the ids it already had.
  std::vector<int64_t> ordered_attach_ids;
};

/// Job lifecycle: claim, validate, start, finish.
class job_store {
public:
  virtual ~job_store() = default;

  /// Loads the job and takes its lease (epoch + 1) unless it is finished or
  /// held by another live worker.
  virtual claimed_job claim(const std::string& job_id, const std::string& node_id,
                            std::chrono::milliseconds lease_ttl,
                            int max_attempts) = 0;

  /// Keeps the lease alive; false when it was lost.
  virtual bool renew(const std::string& job_id, int64_t epoch,
                     std::chrono::milliseconds lease_ttl) = 0;

  /// Gives the lease back without finishing (shutdown): another worker may
  /// take the job at once.
  virtual void release(const std::string& job_id, int64_t epoch) = 0;

  /// The attach rows named by a job, in one query (missing ids are absent).
  virtual std::vector<attach_row> attach_rows(const std::vector<int64_t>& ids) = 0;

  /// Ends a job whose input is invalid: failed, counters 0, production
  /// failed. False when the lease was lost.
  virtual bool fail_invalid(const std::string& job_id, int64_t epoch,
                            const std::string& message) = 0;

  /// Marks job and production processing, sets total_images and started_at
  /// (once); returns the images already committed, or nullopt when the lease
  /// was lost.
  virtual std::optional<std::vector<committed_image>>
  start(const std::string& job_id, int64_t epoch, int total_images) = 0;

  /// Final status of job and production; false when the lease was lost.
  virtual bool finish(const job_finish& f) = 0;
};

/// Every change of a balance (CONTRACT.md section 6, rule 23).
class credit_ledger {
public:
  virtual ~credit_ledger() = default;

  /// Reserves `cost` for one image before the model is called; idempotent
  /// per (job, stage, image). Holds never appear in quel_credit_log.
  virtual hold_outcome hold(const std::string& job_id, int64_t epoch,
                            int stage_index, int image_index,
                            const std::optional<std::string>& org_id,
                            int64_t cost) = 0;

  /// Drops the hold of an image that failed; fenced like every write, so a
  /// worker that lost the job cannot release the new owner's hold.
  virtual void release_hold(const std::string& job_id, int64_t epoch,
                            int stage_index, int image_index) = 0;

  /// One transaction: quel_attach row, charge, credit log row, job progress,
  /// exactly-once marker; captures the hold.
  virtual commit_result commit_image(const image_commit& c) = 0;
};

} // namespace quel
