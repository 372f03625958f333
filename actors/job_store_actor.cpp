#include "actors/job_store_actor.hpp"

#include "actors/guarded_call.hpp"
#include "actors/outage_retry.hpp"
#include "messages/errors.hpp"

namespace quel {

job_store_actor::behavior_type
job_store_actor_impl(job_store_actor::stateful_pointer<job_store_state> self,
                     std::shared_ptr<job_store> store, worker_settings settings,
                     std::shared_ptr<worker_metrics> metrics,
                     std::shared_ptr<std::atomic<bool>> give_up) {
  // The actor is the store's only user, so the connection stays on one
  // thread (libpqxx connections are single-threaded).
  self->state.settings = std::move(settings);
  auto run = guarded_runner(self, "job_store", postgresql_server, std::move(store),
                            std::move(metrics), std::move(give_up));
  return {
    [self, run](claim_atom, const ids::job& job_id) -> caf::result<claimed_job> {
      auto& s = self->state.settings;
      return run([&](job_store& db) {
        return db.claim(job_id, s.node_id, s.lease_ttl, s.max_attempts);
      });
    },
    [run](attach_atom, const std::vector<int64_t>& ids)
      -> caf::result<std::vector<attach_row>> {
      return run([&](job_store& db) { return db.attach_rows(ids); });
    },
    [run](invalid_atom, const ids::job& job_id, int64_t epoch,
          const std::string& message) -> caf::result<bool> {
      return run([&](job_store& db) { return db.fail_invalid(job_id, epoch, message); });
    },
    [run](start_atom, const ids::job& job_id, int64_t epoch,
          int32_t total) -> caf::result<start_reply> {
      return run([&](job_store& db) {
        start_reply reply;
        auto committed = db.start(job_id, epoch, total);
        reply.lease_held = committed.has_value();
        if (committed)
          reply.committed = std::move(*committed);
        return reply;
      });
    },
    [run](finish_atom, const job_finish& f) -> caf::result<bool> {
      return run([&](job_store& db) { return db.finish(f); });
    },
    [self, run](renew_atom, const ids::job& job_id,
                int64_t epoch) -> caf::result<bool> {
      auto ttl = self->state.settings.lease_ttl;
      return run([&](job_store& db) { return db.renew(job_id, epoch, ttl); });
    },
    [run](release_atom, const ids::job& job_id,
          int64_t epoch) -> caf::result<bool> {
      return run([&](job_store& db) {
        db.release(job_id, epoch);
        return true;
      });
    },
  };
}

} // namespace quel
