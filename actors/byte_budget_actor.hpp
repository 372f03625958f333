#pragma once

#include <cstdint>
#include <deque>
#include <map>

#include "messages/actor_types.hpp"

namespace quel {

struct byte_budget_state {
  int64_t capacity = 0;
  int64_t used = 0;
  /// Bytes held per requester; a requester that dies gives them back.
  std::map<caf::actor_addr, int64_t> held;
  struct waiter {
    caf::actor_addr who;
    int64_t bytes = 0;
    caf::typed_response_promise<int64_t> promise;
  };
  std::deque<waiter> waiting;
};

/// The worker-wide byte budget for image work in flight
/// (worker.max_inflight_bytes): `acquire n` is answered with n once n bytes
/// fit beside those already held, strictly in arrival order (a large request
/// at the head is not overtaken by small ones behind it, so it cannot
/// starve). `release n` gives bytes back. Requesters are monitored, so a
/// crashed stage cannot leak its bytes.
///
/// A request larger than the whole budget is admitted alone, when nothing
/// else is held: failing it would fail jobs for an operator's setting, and
/// waiting for it could never end. Memory then peaks at that one request,
/// which the model's request and reply caps bound (docs/SECURITY.md, 7).
byte_budget_actor::behavior_type
byte_budget_actor_impl(byte_budget_actor::stateful_pointer<byte_budget_state> self,
                       int64_t capacity);

} // namespace quel
