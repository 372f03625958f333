#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "actors/worker_metrics.hpp"
#include "adapters/postgres/pg_admin.hpp"
#include "messages/atoms.hpp"

#include <caf/all.hpp>

namespace quel {

using health_actor = caf::typed_actor<caf::reacts_to<tick_atom>>;

struct health_state {
  std::unique_ptr<pg_admin> db;
  std::shared_ptr<worker_metrics> metrics;
  std::chrono::milliseconds interval{1000};
};

/// Pings PostgreSQL every `interval` so /readyz reflects an outage even while
/// no job is running (Redis readiness comes from the takers' own calls).
/// Detached: a ping blocks for up to the connect timeout during an outage.
health_actor::behavior_type
health_actor_impl(health_actor::stateful_pointer<health_state> self,
                  std::string database_url, std::shared_ptr<worker_metrics> metrics,
                  std::chrono::milliseconds interval);

} // namespace quel
