#include "actors/generator_node_actor.hpp"

#include <algorithm>

#include "actors/mesh_node_actor.hpp"
#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

using self_ptr = generator_node_actor::stateful_pointer<generator_node_state>;
using promise = caf::typed_response_promise<generated_image, generator_status>;

generator_status status_of(self_ptr self) {
  auto& st = self->state;
  return {st.capacity, st.running + static_cast<int32_t>(st.queue.size())};
}

log::fields call_fields(const generation_request& r) {
  return {{"job_id", r.image.job_id.str()},
          {"stage", std::to_string(r.image.stage_index)},
          {"image", std::to_string(r.image.image_index)}};
}

void hold(self_ptr self, const caf::actor_addr& requester) {
  if (requester && self->state.requesters[requester]++ == 0)
    self->monitor(requester);
}

void release(self_ptr self, const caf::actor_addr& requester) {
  auto i = self->state.requesters.find(requester);
  if (i == self->state.requesters.end())
    return;
  if (--i->second == 0) {
    self->state.requesters.erase(i);
    self->demonitor(requester);
  }
}

void pump(self_ptr self);

void start(self_ptr self, generation_request request, promise rp, caf::actor_addr requester) {
  auto& st = self->state;
  ++st.running;
  auto fields = call_fields(request);
  self->request(st.generators.next(), caf::infinite, generate_atom::value, std::move(request))
    .then(
      [self, rp, requester, fields](generated_image& image) mutable {
        auto& st = self->state;
        --st.running;
        ++st.served;
        release(self, requester);
        log::info("Generated an image for a worker", fields);
        rp.deliver(std::move(image), status_of(self));
        pump(self);
      },
      [self, rp, requester, fields](caf::error& err) mutable {
        auto& st = self->state;
        --st.running;
        ++st.failed;
        release(self, requester);
        // A crash of a local generate actor is a CAF error; the worker must
        // see a model failure with its retry class, not a transport problem
        // (which it would answer by sending the call elsewhere).
        if (err.category() != caf::atom("quel"))
          err = make_failure(worker_errc::retryable,
                             "generator node " + st.own.node_id + ": " + reason_of(err));
        auto f = fields;
        f.emplace_back("reason", reason_of(err));
        log::warn("Model call for a worker failed", f);
        rp.deliver(std::move(err));
        pump(self);
      });
}

/// Starts queued calls while there is room.
void pump(self_ptr self) {
  auto& st = self->state;
  while (st.running < st.capacity && !st.queue.empty()) {
    auto call = std::move(st.queue.front());
    st.queue.pop_front();
    start(self, std::move(call.request), std::move(call.rp), std::move(call.requester));
  }
}

} // namespace

generator_node_actor::behavior_type
generator_node_impl(generator_node_actor::stateful_pointer<generator_node_state> self,
                    mesh_hello own, actor_pool<generate_actor> generators, int32_t capacity) {
  auto& st = self->state;
  st.own = std::move(own);
  st.generators = std::move(generators);
  st.capacity = std::max(capacity, 1);
  self->set_down_handler([self](const caf::down_msg& dm) {
    // A worker is gone (crashed, cut off, stopped): its queued calls are
    // dropped; the ones already running finish and their replies are lost.
    auto& st = self->state;
    st.requesters.erase(dm.source);
    size_t before = st.queue.size();
    for (auto i = st.queue.begin(); i != st.queue.end();)
      if (i->requester == dm.source) {
        i->rp.deliver(make_failure(worker_errc::shutting_down, "the worker went away"));
        i = st.queue.erase(i);
      } else {
        ++i;
      }
    if (before != st.queue.size())
      log::warn("A worker went away; its queued model calls are dropped",
                {{"dropped", std::to_string(before - st.queue.size())}});
  });
  return {
    [self](mesh_hello_atom, const mesh_hello& peer) -> caf::result<mesh_hello> {
      auto& st = self->state;
      auto why = mesh_hello_refusal(st.own, peer);
      if (!why.empty()) {
        log::error("Refused a worker", {{"peer", peer.node_id},
                                        {"peer_address", peer.address},
                                        {"reason", why}});
        return caf::make_error(caf::sec::invalid_argument, why);
      }
      auto reply = st.own;
      reply.roles = generator_roles(status_of(self));
      return reply;
    },
    [self](generate_atom, const generation_request& request)
      -> caf::result<generated_image, generator_status> {
      auto& st = self->state;
      auto requester = caf::actor_cast<caf::actor_addr>(self->current_sender());
      if (st.running >= st.capacity
          && static_cast<int32_t>(st.queue.size()) >= st.capacity) {
        ++st.refused;
        return generator_busy_error(st.own.node_id, status_of(self).load);
      }
      auto rp = self->make_response_promise<generated_image, generator_status>();
      hold(self, requester);
      if (st.running < st.capacity)
        start(self, request, rp, requester);
      else
        st.queue.push_back({request, rp, requester});
      return rp;
    },
  };
}

} // namespace quel
