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

/// Every change of a balance (CONTRACT.md section 6, rule 23). The calls
/// take several images at once, so that a stage holds its images' credits in
/// one round trip and a ledger shard commits the images whose commits
/// arrived together in one (docs/ARCHITECTURE.md, "Statements per job and
/// per image"); each image is checked and refused on its own.
class credit_ledger {
public:
  virtual ~credit_ledger() = default;

  /// Reserves `stage.cost` for each image of `images` (indices within the
  /// stage `stage` names; its image_index is ignored) before the model is
  /// called, in one call; idempotent per (job, stage, image). One outcome
  /// per listed image, in order: while the balance lasts the first images
  /// are held, the rest refused. Holds never appear in quel_credit_log.
  virtual std::vector<hold_outcome> hold_images(const image_identity& stage,
                                                const std::vector<int32_t>& images) = 0;

  /// Drops the holds of images of a stage that were given up; fenced like
  /// every write, so a worker that lost the job cannot release the new
  /// owner's holds.
  virtual void release_holds(const image_identity& stage,
                             const std::vector<int32_t>& images) = 0;

  /// For each image, one transaction's worth of effects: quel_attach row,
  /// charge, credit log row, job progress, exactly-once marker; captures the
  /// hold. All images in one transaction; one result per commit, in order,
  /// each with its own outcome (one fenced or duplicate image is refused
  /// alone). A statement error fails the whole call (nothing committed).
  virtual std::vector<commit_result> commit_images(const std::vector<image_commit>& commits) = 0;

  /// One image's hold (hold_images of one image).
  hold_outcome hold(const image_identity& image) {
    return hold_images(image, {static_cast<int32_t>(image.image_index)}).at(0);
  }

  /// One image's release (release_holds of one image).
  void release_hold(const image_identity& image) {
    release_holds(image, {static_cast<int32_t>(image.image_index)});
  }

  /// One image's commit (commit_images of one commit).
  commit_result commit_image(const image_commit& c) { return commit_images({c}).at(0); }
};

} // namespace quel
