#include "actors/model_gate_actor.hpp"

#include "actors/metric_labels.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

using self_ptr = generate_actor::stateful_pointer<model_gate_state>;
using promise = caf::typed_response_promise<generated_image>;

void forward(self_ptr self, generation_request request, promise rp) {
  auto& st = self->state;
  auto sent = std::chrono::steady_clock::now();
  self->request(st.generators.next(), caf::infinite, generate_atom::value, std::move(request))
    .then(
      [self, rp, sent](generated_image& image) mutable {
        self->state.metrics->model_call_duration.observe({"ok"}, seconds_since(sent));
        rp.deliver(std::move(image));
      },
      [self, rp, sent](caf::error& err) mutable {
        self->state.metrics->model_call_duration.observe({error_class(err)},
                                                         seconds_since(sent));
        rp.deliver(std::move(err));
      });
}

/// One call of `caller` stops waiting; true when the caller is still alive.
bool done_waiting(self_ptr self, const caf::actor_addr& caller) {
  auto& st = self->state;
  bool alive = st.gone.count(caller) == 0;
  if (--st.waiting[caller] == 0) {
    st.waiting.erase(caller);
    st.gone.erase(caller);
    if (alive)
      self->demonitor(caller);
  }
  return alive;
}

} // namespace

generate_actor::behavior_type
model_gate_impl(generate_actor::stateful_pointer<model_gate_state> self,
                actor_pool<generate_actor> generators, rate_limit_actor limiter,
                std::shared_ptr<worker_metrics> metrics) {
  auto& st = self->state;
  st.generators = std::move(generators);
  st.limiter = std::move(limiter);
  st.metrics = std::move(metrics);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (self->state.waiting.count(dm.source) > 0)
      self->state.gone[dm.source] = true;
  });
  return {
    [self](generate_atom, const generation_request& request)
      -> caf::result<generated_image> {
      auto& st = self->state;
      auto rp = self->make_response_promise<generated_image>();
      if (!st.limiter) {
        forward(self, request, rp);
        return rp;
      }
      auto sender = self->current_sender();
      auto caller = caf::actor_cast<caf::actor_addr>(sender);
      if (st.waiting[caller]++ == 0 && sender)
        self->monitor(sender);
      self->request(st.limiter, caf::infinite, rate_atom::value)
        .then(
          [self, request, rp, caller](int64_t waited_ms) mutable {
            auto& m = *self->state.metrics;
            if (waited_ms > 0) {
              m.rate_limit_waits.inc();
              m.rate_limit_wait_seconds.inc({}, waited_ms / 1000.0);
            }
            if (done_waiting(self, caller))
              forward(self, std::move(request), rp);
            else
              rp.deliver(make_failure(worker_errc::shutting_down,
                                      "the image stopped while its model call waited"));
          },
          [self, rp, caller](caf::error& err) mutable {
            // The limiter is gone (shutdown): the image is tried again.
            done_waiting(self, caller);
            rp.deliver(make_failure(worker_errc::retryable,
                                    "model rate limiter unavailable: " + reason_of(err)));
          });
      return rp;
    },
  };
}

} // namespace quel
