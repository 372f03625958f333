#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "adapters/redis/redis_queue.hpp"
#include "messages/atoms.hpp"

namespace quel {

using rate_atom = caf::atom_constant<caf::atom("rate")>;

/// The fleet-wide model rate limit (generator.max_requests_per_minute).
/// `rate` answers once the caller may make its call, with the milliseconds
/// it waited; (run, id) is its own timer.
using rate_limit_actor = caf::typed_actor<caf::replies_to<rate_atom>::with<int64_t>,
                                          caf::reacts_to<run_atom, uint64_t>>;

struct rate_limit_state {
  /// A caller waiting for its slot, or (retry) for Redis to answer again.
  struct waiter {
    caf::typed_response_promise<int64_t> promise;
    std::chrono::steady_clock::time_point asked;
    bool retry = false;
  };
  std::shared_ptr<redis_queue> redis;
  std::string key;
  std::chrono::milliseconds interval{1000};
  uint64_t next_id = 0;
  std::map<uint64_t, waiter> waiting;
};

/// The Redis key all nodes share for the model rate limit.
inline const char* model_rate_key() { return "quel:ratelimit:model"; }

/// Reserves a slot per call in Redis (redis_queue::reserve_rate_slot, one
/// round trip) and answers when the slot comes, by a timer: a waiting call
/// holds no thread. Detached (Redis I/O never runs on the shared
/// scheduler). While Redis is unreachable, callers wait and the
/// reservation is tried again every second: calls wait, they never fail.
rate_limit_actor::behavior_type
rate_limit_actor_impl(rate_limit_actor::stateful_pointer<rate_limit_state> self,
                      std::shared_ptr<redis_queue> redis, int requests_per_minute);

} // namespace quel
