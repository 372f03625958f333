#include "actors/byte_budget_actor.hpp"

#include <algorithm>

namespace quel {

namespace {

using self_ptr = byte_budget_actor::stateful_pointer<byte_budget_state>;

void hand_out(self_ptr self) {
  auto& st = self->state;
  while (!st.waiting.empty()) {
    auto& head = st.waiting.front();
    if (!st.budget->try_admit(head.bytes))
      break;
    auto w = std::move(head);
    st.waiting.pop_front();
    st.held[w.who] += w.bytes;
    w.promise.deliver(w.bytes);
  }
  st.budget->admissions_waiting(!st.waiting.empty());
}

} // namespace

byte_budget_actor::behavior_type
byte_budget_actor_impl(self_ptr self, std::shared_ptr<byte_budget> budget) {
  self->state.budget = std::move(budget);
  // Replies give bytes back on other threads; the budget then sends `run`.
  // A weak reference: the budget outlives this actor in the engines' hands.
  caf::weak_actor_ptr weak{self->ctrl()};
  self->state.budget->on_admission_room([weak] {
    if (auto strong = caf::actor_cast<caf::strong_actor_ptr>(weak))
      caf::anon_send(caf::actor_cast<byte_budget_actor>(strong), run_atom::value);
  });
  self->attach_functor([budget = self->state.budget] {
    budget->on_admission_room(nullptr);
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    st.waiting.erase(std::remove_if(st.waiting.begin(), st.waiting.end(),
                                    [&](const auto& w) { return w.who == dm.source; }),
                     st.waiting.end());
    if (auto i = st.held.find(dm.source); i != st.held.end()) {
      auto bytes = i->second;
      st.held.erase(i);
      st.budget->release(bytes);
    }
    hand_out(self);
  });
  return {
    [self](acquire_atom, int64_t bytes) -> caf::result<int64_t> {
      auto& st = self->state;
      auto sender = self->current_sender();
      auto who = caf::actor_cast<caf::actor_addr>(sender);
      if (st.held.count(who) == 0) {
        self->monitor(sender);
        st.held[who] = 0;
      }
      auto promise = self->make_response_promise<int64_t>();
      st.waiting.push_back({who, std::max<int64_t>(0, bytes), promise});
      hand_out(self);
      return promise;
    },
    [self](release_atom, int64_t bytes) {
      auto& st = self->state;
      auto i = st.held.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (i == st.held.end())
        return;  // not ours to give back
      auto n = std::clamp<int64_t>(bytes, 0, i->second);
      i->second -= n;
      st.budget->release(n);  // wakes this actor with `run` if others wait
      hand_out(self);
    },
    [self](run_atom) { hand_out(self); },
    [self](caf::get_atom) -> int64_t { return self->state.budget->used(); },
  };
}

} // namespace quel
