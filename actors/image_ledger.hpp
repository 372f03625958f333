#pragma once

#include <memory>
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

using image_ledger_shard_state = io_actor_state<credit_ledger>;

/// One shard of the image ledger: one PostgreSQL connection (detached:
/// libpqxx blocks).
image_ledger_actor::behavior_type
image_ledger_shard_impl(image_ledger_actor::stateful_pointer<image_ledger_shard_state> self,
                        std::shared_ptr<credit_ledger> ledger,
                        std::shared_ptr<worker_metrics> metrics,
                        std::shared_ptr<std::atomic<bool>> give_up);

} // namespace quel
