#pragma once

#include <caf/all.hpp>

#include "adapters/redis/redis_queue.hpp"
#include "app/worker_config.hpp"
#include "messages/generator_messages.hpp"
#include "messages/mesh_messages.hpp"

/// Wires the worker mesh into the runtime (docs/DISTRIBUTED.md): loads CAF's
/// middleman with the heartbeat settings and the mesh's message types, then
/// publishes the node actor and starts the mesh actor and its registry.
namespace quel {

/// Before the actor system exists: middleman, heartbeats (the same values on
/// every node), message types that cross hosts. For workers with mesh.listen
/// or mesh.generators, and for generator nodes.
void configure_mesh(caf::actor_system_config& cfg, const mesh_settings& m);

/// The generate actor the model gate forwards to: `local` itself without
/// mesh.generators, else a router over the generator nodes with `local` as
/// its fallback (generator_router_actor.hpp), whose view of the nodes a
/// detached writer puts in Redis for `status` (generator_view_actor.hpp;
/// it ends with the router). `router` is set when one was spawned (the
/// caller stops it).
actor_pool<generate_actor> route_model_calls(caf::actor_system& sys, const worker_config& c,
                                             actor_pool<generate_actor> local,
                                             generator_router_actor& router,
                                             const redis_endpoint& endpoint);

struct mesh_actors {
  mesh_node_actor node;
  mesh_registry_actor registry;
  mesh_actor coordinator;
  /// Ends all three (no-op when the mesh is off).
  void stop();
};

/// Publishes the node actor on mesh.listen and starts the mesh. Throws
/// config_error when the address cannot be bound.
mesh_actors start_mesh(caf::actor_system& sys, const worker_config& c,
                       const redis_endpoint& endpoint);

} // namespace quel
