#pragma once

#include <memory>
#include <string>

#include "adapters/postgres/job_store.hpp"

namespace quel {

class pg_connection;

/// job_store and credit_ledger on one lazily opened PostgreSQL connection;
/// every method is one round trip (one statement, or one call of a SQL
/// function of config/migrations). One pg_store per thread.
class pg_store : public job_store, public credit_ledger {
public:
  /// Does not connect yet: the first call does (so a worker starts while the
  /// database is down, and waits on database_unavailable).
  explicit pg_store(const std::string& database_url);
  ~pg_store() override;

  pg_store(const pg_store&) = delete;
  pg_store& operator=(const pg_store&) = delete;

  claimed_job claim(const ids::job& job_id, const std::string& node_id,
                    std::chrono::milliseconds lease_ttl, int max_attempts) override;
  bool renew(const ids::job& job_id, int64_t epoch,
             std::chrono::milliseconds lease_ttl) override;
  void release(const ids::job& job_id, int64_t epoch) override;
  std::vector<attach_row> attach_rows(const std::vector<int64_t>& ids) override;
  bool fail_invalid(const ids::job& job_id, int64_t epoch,
                    const std::string& message) override;
  std::optional<std::vector<committed_image>>
  start(const ids::job& job_id, int64_t epoch, int total_images) override;
  bool finish(const job_finish& f) override;

  std::vector<hold_outcome> hold_images(const image_identity& stage,
                                        const std::vector<int32_t>& images) override;
  void release_holds(const image_identity& stage,
                     const std::vector<int32_t>& images) override;
  std::vector<commit_result> commit_images(const std::vector<image_commit>& commits) override;

  /// The server process id of the open connection, 0 when none is open
  /// (tests use it to break the connection on purpose).
  int backend_pid() const noexcept;

private:
  std::unique_ptr<pg_connection> db_;
};

} // namespace quel
