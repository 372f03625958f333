#pragma once

#include <memory>
#include <vector>

#include "actors/actor_pool.hpp"
#include "actors/worker_metrics.hpp"
#include "adapters/postgres/job_store.hpp"
#include "messages/actor_types.hpp"

namespace quel {

/// The CreditActor: the only way an organisation's balance changes. It
/// routes each request to a ledger shard chosen by organisation, so one
/// organisation's holds and charges are serialised on one connection (no
/// lock contention between shards) while different organisations proceed in
/// parallel. The database enforces the rules (never negative, exactly once
/// per image); the shard count only decides parallelism.
credit_actor::behavior_type credit_actor_impl(credit_actor::pointer self,
                                              actor_pool<credit_actor> shards);

struct ledger_shard_state {
  std::shared_ptr<credit_ledger> ledger;
  std::shared_ptr<worker_metrics> metrics;
  std::shared_ptr<std::atomic<bool>> give_up;
};

/// One ledger connection (detached: libpqxx blocks).
credit_actor::behavior_type
ledger_shard_impl(credit_actor::stateful_pointer<ledger_shard_state> self,
                  std::shared_ptr<credit_ledger> ledger,
                  std::shared_ptr<worker_metrics> metrics,
                  std::shared_ptr<std::atomic<bool>> give_up);

} // namespace quel
