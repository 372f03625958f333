#include "actors/image_ledger.hpp"

#include <algorithm>
#include <exception>
#include <iterator>

#include "actors/guarded_call.hpp"
#include "actors/outage_retry.hpp"
#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

image_ledger_actor::behavior_type image_ledger_impl(image_ledger_actor::pointer self,
                                                    actor_pool<image_ledger_actor> shards) {
  return {
    // A stage's holds, their release and each image's commit all go to the
    // shard of the ledger key, so they are serialised in the order they were
    // sent.
    [self, shards](hold_atom a, const image_identity& stage,
                   const std::vector<int32_t>& images) {
      return self->delegate(shards.for_key(stage.ledger_key()), a, stage, images);
    },
    [self, shards](commit_atom a, const image_commit& c) {
      return self->delegate(shards.for_key(c.image.ledger_key()), a, c);
    },
    [self, shards](unhold_atom a, const image_identity& stage,
                   const std::vector<int32_t>& images) {
      self->send(shards.for_key(stage.ledger_key()), a, stage, images);
    },
    [](run_atom) {
      // Only shards group commits.
    },
  };
}

namespace {

using shard_ptr = image_ledger_actor::stateful_pointer<image_ledger_shard_state>;

/// Calls the port through the outage wait; an error becomes the caf::error
/// of the commits concerned (failure_from_exception classifies it).
template <class F>
auto ledger_call(shard_ptr self, F&& fn) {
  auto& s = self->state;
  return server_call(postgresql_server, *s.metrics, *s.give_up,
                     [&] { return fn(*s.port); });
}

/// The error of a failed call, logged as guarded_call logs it.
caf::error request_failed(std::exception_ptr ep) {
  auto err = failure_from_exception(ep);
  log::limited(log::level::warn, "image_ledger_shard-request-failed", 1000,
               "image_ledger_shard request failed", {{"error", reason_of(err)}});
  return err;
}

void deliver_alone(shard_ptr self, pending_commit& p) {
  try {
    auto r = ledger_call(self, [&](credit_ledger& l) { return l.commit_image(p.commit); });
    p.promise.deliver(std::move(r));
  } catch (...) {
    p.promise.deliver(request_failed(std::current_exception()));
  }
}

/// Commits what was put aside, at most max_grouped_commits per call.
// Safe to retry after a broken connection: each commit is idempotent per
// (job, stage, image), so an in-doubt commit reports already_committed.
void commit_pending(shard_ptr self) {
  auto& st = self->state;
  while (!st.pending.empty()) {
    auto n = std::min(st.pending.size(), max_grouped_commits);
    std::vector<pending_commit> batch(std::make_move_iterator(st.pending.begin()),
                                      std::make_move_iterator(st.pending.begin() + n));
    st.pending.erase(st.pending.begin(), st.pending.begin() + n);
    std::vector<image_commit> commits;
    commits.reserve(batch.size());
    for (auto& p : batch)
      commits.push_back(p.commit);
    std::vector<commit_result> results;
    try {
      results = ledger_call(self, [&](credit_ledger& l) { return l.commit_images(commits); });
    } catch (...) {
      if (batch.size() == 1) {
        batch.front().promise.deliver(request_failed(std::current_exception()));
        continue;
      }
      // Nothing of the group was committed: find the image at fault by
      // committing each alone.
      log::limited(log::level::warn, "image_ledger_shard-group-failed", 1000,
                   "grouped commit failed; committing its images one by one",
                   {{"error", reason_of(failure_from_exception(std::current_exception()))},
                    {"images", std::to_string(batch.size())}});
      for (auto& p : batch)
        deliver_alone(self, p);
      continue;
    }
    for (size_t i = 0; i < batch.size(); ++i)
      batch[i].promise.deliver(std::move(results[i]));
  }
}

} // namespace

image_ledger_actor::behavior_type
image_ledger_shard_impl(image_ledger_actor::stateful_pointer<image_ledger_shard_state> self,
                        std::shared_ptr<credit_ledger> ledger,
                        std::shared_ptr<worker_metrics> metrics,
                        std::shared_ptr<std::atomic<bool>> give_up) {
  auto run = guarded_runner(self, "image_ledger_shard", postgresql_server, std::move(ledger),
                            std::move(metrics), std::move(give_up));
  return {
    [self, run](hold_atom, const image_identity& stage,
                const std::vector<int32_t>& images) -> caf::result<hold_reply> {
      commit_pending(self);
      return run([&](credit_ledger& l) { return hold_reply{l.hold_images(stage, images)}; });
    },
    [self](commit_atom, const image_commit& c) -> caf::result<commit_result> {
      auto& st = self->state;
      auto promise = self->make_response_promise<commit_result>();
      st.pending.push_back(pending_commit{c, promise});
      if (!st.flush_sent) {
        st.flush_sent = true;
        self->send(self, run_atom::value);
      }
      return promise;
    },
    [self, run](unhold_atom, const image_identity& stage, const std::vector<int32_t>& images) {
      commit_pending(self);
      run([&](credit_ledger& l) {
        l.release_holds(stage, images);
        return true;
      });
    },
    [self](run_atom) {
      self->state.flush_sent = false;
      commit_pending(self);
    },
  };
}

} // namespace quel
