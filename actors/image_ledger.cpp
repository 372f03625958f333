#include "actors/image_ledger.hpp"

#include "actors/guarded_call.hpp"
#include "actors/outage_retry.hpp"
#include "messages/errors.hpp"

namespace quel {

image_ledger_actor::behavior_type image_ledger_impl(image_ledger_actor::pointer self,
                                                    actor_pool<image_ledger_actor> shards) {
  return {
    // A hold, its release and its commit all go to the shard of the
    // image's ledger key, so they are serialised in the order they were sent.
    [self, shards](hold_atom a, const image_identity& image) {
      return self->delegate(shards.for_key(image.ledger_key()), a, image);
    },
    [self, shards](commit_atom a, const image_commit& c) {
      return self->delegate(shards.for_key(c.image.ledger_key()), a, c);
    },
    [self, shards](unhold_atom a, const image_identity& image) {
      self->send(shards.for_key(image.ledger_key()), a, image);
    },
  };
}

image_ledger_actor::behavior_type
image_ledger_shard_impl(image_ledger_actor::stateful_pointer<image_ledger_shard_state> self,
                        std::shared_ptr<credit_ledger> ledger,
                        std::shared_ptr<worker_metrics> metrics,
                        std::shared_ptr<std::atomic<bool>> give_up) {
  auto run = guarded_runner(self, "image_ledger_shard", postgresql_server, std::move(ledger),
                            std::move(metrics), std::move(give_up));
  return {
    [run](hold_atom, const image_identity& image) -> caf::result<hold_reply> {
      return run([&](credit_ledger& l) { return hold_reply{l.hold(image)}; });
    },
    [run](commit_atom, const image_commit& c) -> caf::result<commit_result> {
      // Safe to retry after a broken connection: the commit is idempotent per
      // (job, stage, image), so an in-doubt commit reports already_committed.
      return run([&](credit_ledger& l) { return l.commit_image(c); });
    },
    [run](unhold_atom, const image_identity& image) {
      run([&](credit_ledger& l) {
        l.release_hold(image);
        return true;
      });
    },
  };
}

} // namespace quel
