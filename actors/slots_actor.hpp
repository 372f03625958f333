#pragma once

#include <deque>
#include <map>
#include <utility>

#include "messages/actor_types.hpp"

namespace quel {

struct slots_state {
  int free = 0;
  /// Slots held per requester; a requester that dies gives its slots back.
  std::map<caf::actor_addr, int> held;
  std::deque<std::pair<caf::actor_addr, caf::typed_response_promise<bool>>> waiting;
};

/// Admission control for images in flight (QUEL_MAX_INFLIGHT_IMAGES): an
/// `acquire` is answered when a slot is free, in arrival order, so many jobs
/// share the model fairly and memory stays bounded. Requesters are
/// monitored, so a crashed stage cannot leak slots.
slots_actor::behavior_type
slots_actor_impl(slots_actor::stateful_pointer<slots_state> self, int capacity);

} // namespace quel
