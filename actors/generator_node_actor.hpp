#pragma once

#include <cstdint>
#include <deque>
#include <map>

#include "actors/actor_pool.hpp"
#include "messages/generator_messages.hpp"

/// The actor `quel-worker serve-generator` publishes on mesh.listen
/// (docs/DISTRIBUTED.md): it answers the hello (protocol version, capacity
/// and load) and runs remote workers' model calls on the node's own
/// generate actors. Cooperative: it only forwards and waits for replies.
///
/// Bounded: at most `capacity` calls run at once; as many again wait in a
/// queue (so a node shared by several workers stays busy between their
/// calls); beyond that a call is refused with generator_busy_error and the
/// worker sends it elsewhere. A worker that goes away (its router's proxy
/// dies) loses its queued calls, so nobody pays the model for them.
namespace quel {

struct generator_node_state {
  mesh_hello own;
  actor_pool<generate_actor> generators;
  int32_t capacity = 1;
  int32_t running = 0;
  struct queued_call {
    generation_request request;
    caf::typed_response_promise<generated_image, generator_status> rp;
    caf::actor_addr requester;
  };
  std::deque<queued_call> queue;
  /// Requesters (workers' routers) monitored, with their calls held here.
  std::map<caf::actor_addr, int> requesters;
  int64_t served = 0;
  int64_t failed = 0;
  int64_t refused = 0;
};

generator_node_actor::behavior_type
generator_node_impl(generator_node_actor::stateful_pointer<generator_node_state> self,
                    mesh_hello own, actor_pool<generate_actor> generators, int32_t capacity);

} // namespace quel
