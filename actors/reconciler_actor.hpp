#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "actors/worker_context.hpp"
#include "adapters/postgres/pg_admin.hpp"
#include "adapters/redis/queue_store.hpp"

namespace quel {

using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;

/// The reconciler's only message is its own timer.
using reconciler_actor = caf::typed_actor<caf::reacts_to<reconcile_atom>>;

struct reconciler_state {
  std::unique_ptr<pg_admin> db;
  std::shared_ptr<queue_store> redis;
  /// Every module of the modules file, served by this worker or not.
  module_catalog modules;
  /// Jobs of an unknown module already reported (logged once each).
  std::set<std::string> reported_unknown;
  std::chrono::milliseconds interval{30000};
  double min_age_seconds = 120;
};

/// Finds jobs PostgreSQL says are unfinished (pending or processing, older
/// than `min_age`, no live lease) whose id is in no queue and no processing
/// list, e.g. a producer that died between INSERT and LPUSH, and pushes them
/// onto their module's queue (domain/reconcile_rule.hpp): `modules` is every
/// known module, so a job of a module this worker does not serve goes back
/// to the workers that do. Ids of finished jobs are dropped by the
/// supervisor that takes them. Spawned detached (libpqxx and hiredis block).
reconciler_actor::behavior_type
reconciler_impl(reconciler_actor::stateful_pointer<reconciler_state> self,
                std::string database_url, std::shared_ptr<queue_store> redis,
                module_catalog modules, std::chrono::milliseconds interval,
                double min_age_seconds);

} // namespace quel
