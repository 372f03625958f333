#pragma once

#include <map>
#include <memory>

#include "actors/actor_pool.hpp"
#include "actors/rate_limit_actor.hpp"
#include "actors/worker_metrics.hpp"
#include "messages/actor_types.hpp"

namespace quel {

struct model_gate_state {
  actor_pool<generate_actor> generators;
  rate_limit_actor limiter;
  std::shared_ptr<worker_metrics> metrics;
  /// Callers with calls waiting for the rate limit (monitored), and those
  /// of them that died meanwhile: a dead caller's call is not made.
  std::map<caf::actor_addr, int> waiting;
  std::map<caf::actor_addr, bool> gone;
};

/// Stands in front of the generator pool for every model call (any
/// backend): waits for the fleet-wide rate limit when there is one
/// (`limiter` set), then forwards the call to `generators` and times it
/// (quel_model_call_duration_seconds). Cooperative: it only waits for
/// replies, so one serves every image actor; a wait holds no thread. A call
/// whose image actor stopped while it waited (its job ended) is dropped
/// instead of paying the model for nobody.
generate_actor::behavior_type
model_gate_impl(generate_actor::stateful_pointer<model_gate_state> self,
                actor_pool<generate_actor> generators, rate_limit_actor limiter,
                std::shared_ptr<worker_metrics> metrics);

} // namespace quel
