#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/credit_records.hpp"
#include "domain/image_identity.hpp"
#include "domain/job_records.hpp"

/// PostgreSQL is the system of record. These ports are what the actors need
/// from it; pg_store implements them with libpqxx, one statement (or one SQL
/// function of config/migrations) per step, exec_params only. The values they
/// exchange are domain types (domain/job_records.hpp, credit_records.hpp), so
/// the actor protocol can carry them without including this port. No CAF here.
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

/// Job lifecycle: claim, validate, start, finish.
class job_store {
public:
  virtual ~job_store() = default;

  /// Loads the job and takes its lease (epoch + 1) unless it is finished or
  /// held by another live worker.
  virtual claimed_job claim(const ids::job& job_id, const std::string& node_id,
                            std::chrono::milliseconds lease_ttl,
                            int max_attempts) = 0;

  /// Keeps the lease alive; false when it was lost.
  virtual bool renew(const ids::job& job_id, int64_t epoch,
                     std::chrono::milliseconds lease_ttl) = 0;

  /// Gives the lease back without finishing (shutdown): another worker may
  /// take the job at once.
  virtual void release(const ids::job& job_id, int64_t epoch) = 0;

  /// The attach rows named by a job, in one query (missing ids are absent).
  virtual std::vector<attach_row> attach_rows(const std::vector<int64_t>& ids) = 0;

  /// Ends a job whose input is invalid: failed, counters 0, production
  /// failed. False when the lease was lost.
  virtual bool fail_invalid(const ids::job& job_id, int64_t epoch,
                            const std::string& message) = 0;

  /// Marks job and production processing, sets total_images and started_at
  /// (once); returns the images already committed, or nullopt when the lease
  /// was lost.
  virtual std::optional<std::vector<committed_image>>
  start(const ids::job& job_id, int64_t epoch, int total_images) = 0;

  /// Final status of job and production; false when the lease was lost.
  virtual bool finish(const job_finish& f) = 0;
};

/// Every change of a balance (CONTRACT.md section 6, rule 23).
class credit_ledger {
public:
  virtual ~credit_ledger() = default;

  /// Reserves `cost` for one image before the model is called; idempotent
  /// per (job, stage, image). Holds never appear in quel_credit_log.
  virtual hold_outcome hold(const image_identity& image) = 0;

  /// Drops the hold of an image that failed; fenced like every write, so a
  /// worker that lost the job cannot release the new owner's hold.
  virtual void release_hold(const image_identity& image) = 0;

  /// One transaction: quel_attach row, charge, credit log row, job progress,
  /// exactly-once marker; captures the hold.
  virtual commit_result commit_image(const image_commit& c) = 0;
};

} // namespace quel
