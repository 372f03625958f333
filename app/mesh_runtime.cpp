#include "app/mesh_runtime.hpp"

#include <caf/io/middleman.hpp>

#include "actors/generator_router_actor.hpp"
#include "actors/generator_view_actor.hpp"
#include "actors/mesh_actor.hpp"
#include "actors/mesh_node_actor.hpp"
#include "actors/mesh_registry_actor.hpp"
#include "actors/mesh_transport.hpp"
#include "app/mesh_config.hpp"
#include "common/log.hpp"

namespace quel {

void configure_mesh(caf::actor_system_config& cfg, const mesh_settings& m) {
  configure_mesh_transport(cfg, m);
}

actor_pool<generate_actor> route_model_calls(caf::actor_system& sys, const worker_config& c,
                                             actor_pool<generate_actor> local,
                                             generator_router_actor& router,
                                             const redis_endpoint& endpoint) {
  if (c.mesh.generators.empty())
    return local;
  mesh_hello own;
  own.node_id = c.settings.node_id;
  own.address = c.mesh.enabled ? c.mesh.address() : std::string{};
  own.roles = {"worker"};
  // A backstop only: a lost node is noticed by its monitor within
  // mesh.connection_timeout, a slow model call ends by generator.timeout
  // on the node.
  auto call_timeout = c.generator_timeout * 2 + c.mesh.connection_timeout * 2;
  auto views = sys.spawn<caf::detached>(generator_view_impl,
                                        std::make_shared<redis_queue>(endpoint),
                                        c.settings.node_id, c.settings.lease_ttl);
  router = sys.spawn(generator_router_impl, c.mesh, own, local, call_timeout, views);
  log::info("Model calls go to generator nodes",
            {{"generators", std::to_string(c.mesh.generators.size())},
             {"fallback", c.mesh.generator_fallback_local ? "local" : "wait"}});
  return actor_pool<generate_actor>({router});
}

void mesh_actors::stop() {
  if (coordinator)
    caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
  if (registry)
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  if (node)
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
}

mesh_actors start_mesh(caf::actor_system& sys, const worker_config& c,
                       const redis_endpoint& endpoint) {
  const auto& m = c.mesh;
  mesh_hello own;
  own.node_id = c.settings.node_id;
  own.address = m.address();
  own.roles = {"worker"};
  mesh_actors out;
  std::vector<std::string> queues;
  for (auto& module : c.known_modules.all())
    queues.push_back(module.queue);
  out.registry = sys.spawn<caf::detached>(mesh_registry_impl,
                                          std::make_shared<redis_queue>(endpoint),
                                          c.database_url, c.settings.node_id, m.address(),
                                          std::move(queues), c.settings.lease_ttl);
  // The coordinator before the node actor: peers that dial this node are
  // handed to it by the node actor.
  out.coordinator = sys.spawn(mesh_impl, m, own, out.registry, mesh_connector(sys));
  out.node = sys.spawn(mesh_node_impl, own, out.coordinator);
  auto port = mesh_publish(out.node, m.host, m.port);
  if (!port) {
    out.stop();
    throw config_error("mesh.listen (QUEL_MESH_LISTEN) " + m.address()
                       + " cannot be bound: " + sys.render(port.error()));
  }
  if (!m.tls() && !loopback_host(m.host))
    log::warn("Mesh in plain mode on a non-loopback address (mesh.insecure = true): "
              "connections between nodes are neither encrypted nor authenticated",
              {{"listen", m.address()}});
  log::info("Mesh node published",
            {{"listen", m.address()},
             {"transport", mesh_uses_tls(sys) ? "mutual TLS" : "plain"},
             {"heartbeat_ms", std::to_string(m.heartbeat_interval.count())},
             {"connection_timeout_ms", std::to_string(m.connection_timeout.count())},
             {"grace_ms", std::to_string(m.grace.count())}});
  return out;
}

} // namespace quel
