#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>

#include "common/byte_budget.hpp"
#include "messages/actor_types.hpp"

namespace quel {

struct byte_budget_state {
  std::shared_ptr<byte_budget> budget;
  /// Bytes held per requester; a requester that dies gives them back.
  std::map<caf::actor_addr, int64_t> held;
  struct waiter {
    caf::actor_addr who;
    int64_t bytes = 0;
    caf::typed_response_promise<int64_t> promise;
  };
  std::deque<waiter> waiting;
};

/// Admissions to the worker-wide byte budget of image work in flight
/// (worker.max_inflight_bytes, common/byte_budget.hpp): `acquire n` is
/// answered with n once the budget admits n bytes, strictly in arrival order
/// (a large request at the head is not overtaken by small ones behind it, so
/// it cannot starve). `release n` gives bytes back. Requesters are
/// monitored, so a crashed stage cannot leak its bytes.
///
/// The same budget counts model replies as they arrive (reply_reservation,
/// grown by the HTTP engine on its own thread); when they give bytes back,
/// the budget wakes this actor with `run` to admit the next waiters.
///
/// A request larger than the admission limit is admitted alone, when
/// nothing else is held: failing it would fail jobs for an operator's
/// setting, and waiting for it could never end. Memory then peaks at that
/// one request, which the model's request limit bounds (docs/SECURITY.md, 7).
byte_budget_actor::behavior_type
byte_budget_actor_impl(byte_budget_actor::stateful_pointer<byte_budget_state> self,
                       std::shared_ptr<byte_budget> budget);

} // namespace quel
