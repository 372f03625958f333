#pragma once

#include <memory>

#include <caf/typed_response_promise.hpp>
#include <vector>

#include "actors/actor_pool.hpp"
#include "actors/io_actor_state.hpp"
#include "actors/worker_metrics.hpp"
#include "adapters/postgres/job_store.hpp"
#include "messages/actor_types.hpp"

namespace quel {

/// The image ledger (the CreditActor role of docs/ARCHITECTURE.md): holds,
/// charges and commits images. Holding a credit, releasing it and committing
/// an image (its attach row, the charge, the credit log line and the job's
/// progress, in one transaction) are the only ways an organisation's balance
/// changes. This front routes each request to a ledger shard chosen by organisation, so one
/// organisation's holds and charges are serialised on one connection (no
/// lock contention between shards) while different organisations proceed in
/// parallel. The database enforces the rules (never negative, exactly once
/// per image); the shard count only decides parallelism.
image_ledger_actor::behavior_type image_ledger_impl(image_ledger_actor::pointer self,
                                                    actor_pool<image_ledger_actor> shards);

/// A commit waiting for the shard's next grouped call, with its requester.
struct pending_commit {
  image_commit commit;
  caf::typed_response_promise<commit_result> promise;
};

struct image_ledger_shard_state : io_actor_state<credit_ledger> {
  std::vector<pending_commit> pending;  // in arrival order
  bool flush_sent = false;              // a run_atom is on its way to us
};

/// At most this many commits go into one call (one transaction): a bound on
/// how long one transaction holds its job and organisation row locks.
constexpr size_t max_grouped_commits = 64;

/// One shard of the image ledger: one PostgreSQL connection (detached:
/// libpqxx blocks). Commits are grouped: a commit is put aside and the
/// shard sends itself `run`; the commits that reached its mailbox before
/// that `run` (those that arrived while it was busy in the database) are
/// committed in one call. A commit alone waits for nothing but that one
/// message. A hold or release first commits what is put aside, so the shard
/// still handles one image's messages in the order they were sent. When a
/// grouped call fails with an error (not an outage, which is waited out and
/// retried whole), each of its commits is retried alone, so that one bad
/// image is refused alone.
image_ledger_actor::behavior_type
image_ledger_shard_impl(image_ledger_actor::stateful_pointer<image_ledger_shard_state> self,
                        std::shared_ptr<credit_ledger> ledger,
                        std::shared_ptr<worker_metrics> metrics,
                        std::shared_ptr<std::atomic<bool>> give_up);

} // namespace quel
