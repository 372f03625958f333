// `quel-worker serve-generator`: a generator node (docs/DISTRIBUTED.md).
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <thread>

#include <caf/all.hpp>

#include "actors/generator_node_actor.hpp"
#include "actors/mesh_transport.hpp"
#include "actors/shutdown_wait.hpp"
#include "app/media_backends.hpp"
#include "app/mesh_config.hpp"
#include "app/mesh_runtime.hpp"
#include "app/worker_runtime.hpp"
#include "common/log.hpp"

namespace quel {

int serve_generator(const worker_config& c) {
  if (!c.mesh.enabled)
    throw config_error("serve-generator needs mesh.listen (QUEL_MESH_LISTEN): the host:port "
                       "where workers reach this generator node");
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads",
          static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
  // Idle threads wait instead of polling, as in the worker
  // (run_actor_system in app/worker_runtime.cpp, docs/PERFORMANCE.md).
  cfg.set("scheduler.policy", caf::atom("sharing"));
  configure_mesh(cfg, c.mesh);  // the same heartbeats as the workers
  caf::actor_system sys{cfg};
  auto media = spawn_media_actors(sys, c, std::make_shared<worker_metrics>(), false);
  mesh_hello own;
  own.node_id = c.settings.node_id;
  own.address = c.mesh.address();
  auto node = sys.spawn(generator_node_impl, own, media.generators, c.generator_concurrency);
  auto port = mesh_publish(node, c.mesh.host, c.mesh.port);
  if (!port) {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    media.stop();
    throw config_error("mesh.listen (QUEL_MESH_LISTEN) " + c.mesh.address()
                       + " cannot be bound: " + sys.render(port.error()));
  }
  if (!c.mesh.tls() && !loopback_host(c.mesh.host))
    log::warn("Generator node in plain mode on a non-loopback address (mesh.insecure = "
              "true): connections are neither encrypted nor authenticated",
              {{"listen", c.mesh.address()}});
  log::info("Generator node published",
            {{"node", c.settings.node_id}, {"listen", c.mesh.address()},
             {"transport", mesh_uses_tls(sys) ? "mutual TLS" : "plain"},
             {"generator", c.generator_backend},
             {"capacity", std::to_string(c.generator_concurrency)},
             {"heartbeat_ms", std::to_string(c.mesh.heartbeat_interval.count())},
             {"connection_timeout_ms", std::to_string(c.mesh.connection_timeout.count())}});

  int sig = 0;
  sigwait(&signals, &sig);
  log::info(sig == SIGTERM ? "SIGTERM received; generator node stopping"
                           : "SIGINT received; generator node stopping");
  // Calls in flight end with the node: their workers' routers see the node
  // lost and send the calls elsewhere.
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  media.stop();
  auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  if (!await_actors_until(sys, limit)) {
    log::warn("Generator node: abandoning model calls stuck in blocking calls");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  log::info("Generator node stopped");
  return 0;
}

} // namespace quel
