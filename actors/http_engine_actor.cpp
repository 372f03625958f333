#include "actors/http_engine_actor.hpp"

#include "common/log.hpp"

namespace quel {

namespace {

using self_ptr = http_engine_actor::stateful_pointer<http_engine_state>;

void keep_polling(self_ptr self) {
  auto& st = self->state;
  if (st.polling || st.engine->in_flight() == 0)
    return;
  st.polling = true;
  self->send(self, http_poll_atom::value);
}

} // namespace

http_engine_actor::behavior_type
http_engine_actor_impl(self_ptr self, http_engine_options options) {
  self->state.engine = std::make_unique<http_engine>(std::move(options));
  return {
    [self](http_atom, http_request& request) -> caf::result<http_response> {
      auto rp = self->make_response_promise<http_response>();
      // The callback runs inside run_once on this actor's own thread, so
      // delivering the promise from there is safe.
      self->state.engine->submit(std::move(request),
                                 [rp](http_response&& r) mutable {
                                   rp.deliver(std::move(r));
                                 });
      keep_polling(self);
      return rp;
    },
    [self](http_poll_atom) {
      auto& st = self->state;
      st.polling = false;
      st.engine->run_once(st.turn);
      // Re-sent behind whatever arrived meanwhile: the mailbox is served
      // between two turns.
      keep_polling(self);
    },
  };
}

} // namespace quel
