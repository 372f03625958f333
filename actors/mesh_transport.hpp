#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/publish.hpp>

#include "actors/mesh_settings.hpp"

/// Every publish and connect between nodes (mesh peers, generator nodes and
/// their workers) goes through here, so that all of them use the same
/// transport: CAF's plain middleman, or caf::openssl's manager (mutual TLS)
/// when mesh.tls_* are set (docs/DISTRIBUTED.md "TLS"). The two share one
/// BASP broker and speak the same middleman_actor protocol; only the
/// sockets differ. With TLS, the process relies on
/// app/openssl_error_queue.cpp (caf::openssl 0.17.6 does not clear
/// OpenSSL's error queue, so one refused handshake would close healthy
/// connections).
namespace quel {

/// Before the actor system exists, on every node (workers and generator
/// nodes): CAF's middleman and, with TLS, the OpenSSL manager with this
/// node's certificate, key, passphrase and CA (CAF reads them from
/// actor_system_config::openssl_*); the heartbeats (the same values
/// everywhere, caf-0.17.md 3.7) and every message type that crosses hosts.
/// check_mesh_security (app/mesh_config.hpp) runs first: caf::openssl
/// throws inside its multiplexer when a file does not load.
void configure_mesh_transport(caf::actor_system_config& cfg, const mesh_settings& m);

/// True when connections go through caf::openssl (mutual TLS).
inline bool mesh_uses_tls(caf::actor_system& sys) {
  return sys.has_openssl_manager();
}

/// Publishes a (typed) actor on host:port over the configured transport
/// (SO_REUSEADDR, so a restarted node gets its port back at once); the
/// bound port or CAF's error. Publish the typed handle: its interface is
/// what a peer's typed connect checks (caf-0.17.md 3.6).
template <class Handle>
caf::expected<uint16_t> mesh_publish(const Handle& whom, const std::string& host,
                                     uint16_t port) {
  auto& sys = whom.home_system();
  if (mesh_uses_tls(sys))
    return caf::openssl::publish(whom, port, host.c_str(), true);
  return sys.middleman().publish(whom, port, host.c_str(), true);
}

/// The actor to ask for an outgoing connection:
///   request(connector, timeout, caf::connect_atom::value, host, port)
///     -> (caf::node_id, caf::strong_actor_ptr, std::set<std::string>)
/// The OpenSSL manager's when TLS is configured, else the middleman's.
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
