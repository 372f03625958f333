#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

/// The one place where generator nodes and their workers publish and
/// connect (docs/DISTRIBUTED.md). Plain TCP through CAF's middleman today;
/// mutual TLS swaps in caf::openssl's manager here (it speaks the same
/// middleman_actor protocol), and nothing else changes.
namespace quel {

/// Before the actor system exists, on every node (workers and generator
/// nodes): CAF's middleman, its heartbeats (the same values everywhere,
/// caf-0.17.md 3.7) and every message type that crosses hosts.
void configure_mesh_transport(caf::actor_system_config& cfg,
                              std::chrono::milliseconds heartbeat_interval,
                              std::chrono::milliseconds connection_timeout);

/// Publishes `handle` on host:port (reusing the address, so a restarted
/// node binds again at once). Returns the bound port or the error.
template <class Handle>
caf::expected<uint16_t> mesh_publish(caf::actor_system& sys, const Handle& handle,
                                     const std::string& host, uint16_t port) {
  return sys.middleman().publish(handle, port, host.c_str(), true);
}

/// The actor that opens connections to remote nodes.
caf::io::middleman_actor mesh_connector(caf::actor_system& sys);

/// Why a connected actor's interface is not `expected` (empty when it is):
/// a node of another quel-worker version, or a worker's mesh node where a
/// generator node was expected. Names both interfaces for the log.
std::string interface_mismatch(const std::set<std::string>& offered,
                               const std::set<std::string>& expected);

/// Connects asynchronously from `self` to the actor published on host:port
/// and, when it offers `Handle`'s whole interface, calls `on_actor` with
/// it; otherwise `on_error` with the reason. Never blocks the caller.
template <class Handle, class Self>
void mesh_connect(Self* self, const std::string& host, uint16_t port,
                  std::chrono::milliseconds timeout, std::function<void(Handle)> on_actor,
                  std::function<void(const std::string&)> on_error) {
  auto expected = self->system().template message_types<Handle>();
  self->request(mesh_connector(self->system()), timeout, caf::connect_atom::value, host, port)
    .then(
      [self, expected, on_actor, on_error](const caf::node_id&, caf::strong_actor_ptr& ptr,
                                           const std::set<std::string>& offered) {
        if (!ptr)
          return on_error("no actor is published there");
        auto why = interface_mismatch(offered, expected);
        if (!why.empty())
          return on_error(why);
        on_actor(caf::actor_cast<Handle>(std::move(ptr)));
      },
      [self, on_error](const caf::error& err) { on_error(self->system().render(err)); });
}

} // namespace quel
