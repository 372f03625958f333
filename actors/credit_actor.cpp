#include "actors/credit_actor.hpp"

#include "actors/guarded_call.hpp"
#include "actors/outage_retry.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

const std::string& shard_key(const std::optional<std::string>& org_id,
                             const std::string& job_id) {
  return org_id ? *org_id : job_id;
}

} // namespace

credit_actor::behavior_type credit_actor_impl(credit_actor::pointer self,
                                              actor_pool<credit_actor> shards) {
  return {
    [self, shards](hold_atom a, const hold_request& r) {
      return self->delegate(shards.for_key(shard_key(r.org_id, r.job_id)), a, r);
    },
    [self, shards](commit_atom a, const image_commit& c) {
      return self->delegate(shards.for_key(shard_key(c.org_id, c.job_id)), a, c);
    },
    [self, shards](unhold_atom a, const std::string& job_id, int64_t epoch,
                   int32_t stage, int32_t image) {
      self->send(shards.for_key(job_id), a, job_id, epoch, stage, image);
    },
  };
}

credit_actor::behavior_type
ledger_shard_impl(credit_actor::stateful_pointer<ledger_shard_state> self,
                  std::shared_ptr<credit_ledger> ledger,
                  std::shared_ptr<worker_metrics> metrics,
                  std::shared_ptr<std::atomic<bool>> give_up) {
  self->state.ledger = std::move(ledger);
  self->state.metrics = std::move(metrics);
  self->state.give_up = std::move(give_up);
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& ep) {
    return failure_from_exception(ep);
  });
  // Every request is guarded: an SQL error fails that request, never the
  // shard (the pool supervisor replaces it should it die anyway).
  auto run = [self](auto&& fn) {
    return guarded_call("ledger_shard", [&] {
      auto& s = self->state;
      return database_call(*s.metrics, *s.give_up, [&] { return fn(*s.ledger); });
    });
  };
  return {
    [run](hold_atom, const hold_request& r) -> caf::result<hold_reply> {
      return run([&](credit_ledger& l) {
        return hold_reply{l.hold(r.job_id, r.epoch, r.stage_index, r.image_index,
                                 r.org_id, r.cost)};
      });
    },
    [run](commit_atom, const image_commit& c) -> caf::result<commit_result> {
      // Safe to retry after a broken connection: the commit is idempotent per
      // (job, stage, image), so an in-doubt commit reports already_committed.
      return run([&](credit_ledger& l) { return l.commit_image(c); });
    },
    [run](unhold_atom, const std::string& job_id, int64_t epoch, int32_t stage,
          int32_t image) {
      run([&](credit_ledger& l) {
        l.release_hold(job_id, epoch, stage, image);
        return true;
      });
    },
  };
}

} // namespace quel
