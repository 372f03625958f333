#include "actors/slots_actor.hpp"

namespace quel {

namespace {

using self_ptr = slots_actor::stateful_pointer<slots_state>;

void hand_out(self_ptr self) {
  auto& st = self->state;
  while (st.free > 0 && !st.waiting.empty()) {
    auto [who, promise] = std::move(st.waiting.front());
    st.waiting.pop_front();
    --st.free;
    ++st.held[who];
    promise.deliver(true);
  }
}

} // namespace

slots_actor::behavior_type
slots_actor_impl(slots_actor::stateful_pointer<slots_state> self, int capacity) {
  self->state.free = capacity;
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.held.find(dm.source);
    if (i != st.held.end()) {
      st.free += i->second;
      st.held.erase(i);
    }
    for (auto j = st.waiting.begin(); j != st.waiting.end();)
      j = j->first == dm.source ? st.waiting.erase(j) : std::next(j);
    hand_out(self);
  });
  return {
    [self](acquire_atom) -> caf::result<bool> {
      auto& st = self->state;
      auto sender = self->current_sender();
      auto who = caf::actor_cast<caf::actor_addr>(sender);
      if (st.held.count(who) == 0) {
        self->monitor(sender);
        st.held[who] = 0;
      }
      auto promise = self->make_response_promise<bool>();
      st.waiting.emplace_back(who, promise);
      hand_out(self);
      return promise;
    },
    [self](release_atom) {
      auto& st = self->state;
      auto i = st.held.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (i == st.held.end() || i->second == 0)
        return; // not ours to give back
      --i->second;
      ++st.free;
      hand_out(self);
    },
  };
}

} // namespace quel
