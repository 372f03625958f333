#pragma once

#include <memory>

#include "actors/io_actor_state.hpp"
#include "actors/worker_context.hpp"
#include "adapters/postgres/job_store.hpp"
#include "messages/actor_types.hpp"

namespace quel {

struct job_store_state : io_actor_state<job_store> {
  worker_settings settings;
};

/// Serves job rows from PostgreSQL on its own connection. Spawned detached
/// (libpqxx blocks); several form a pool. Waits out database outages.
job_store_actor::behavior_type
job_store_actor_impl(job_store_actor::stateful_pointer<job_store_state> self,
                     std::shared_ptr<job_store> store, worker_settings settings,
                     std::shared_ptr<worker_metrics> metrics,
                     std::shared_ptr<std::atomic<bool>> give_up);

} // namespace quel
