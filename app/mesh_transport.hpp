#pragma once

#include <cstdint>
#include <string>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/publish.hpp>

#include "actors/mesh_settings.hpp"

/// Every publish and connect between nodes goes through here, so that all
/// of them use the same transport: CAF's plain middleman, or caf::openssl's
/// manager (mutual TLS) when mesh.tls_* are set (docs/DISTRIBUTED.md "TLS").
/// The two share one BASP broker; only the sockets differ. With TLS, the
/// process relies on app/openssl_error_queue.cpp (caf::openssl 0.17.6 does
/// not clear OpenSSL's error queue, so one refused handshake would close
/// healthy connections).
namespace quel {

/// Before the actor system exists: loads the middleman and, with TLS, the
/// OpenSSL manager with this node's certificate, key, passphrase and CA
/// (CAF reads them from actor_system_config::openssl_*). Also sets the CAF
/// heartbeats (the same values on every node, caf-0.17.md 3.7). Call
/// check_mesh_security first: caf::openssl throws inside its multiplexer
/// when a file does not load.
void configure_mesh_transport(caf::actor_system_config& cfg, const mesh_settings& m);

/// True when connections go through caf::openssl (mutual TLS).
inline bool mesh_uses_tls(caf::actor_system& sys) {
  return sys.has_openssl_manager();
}

/// The actor to ask for an outgoing connection:
///   request(connector, timeout, caf::connect_atom::value, host, port)
///     -> (caf::node_id, caf::strong_actor_ptr, std::set<std::string>)
/// The OpenSSL manager's when TLS is configured, else the middleman's.
caf::io::middleman_actor mesh_connector(caf::actor_system& sys);

/// Publishes a (typed) actor on host:port over the configured transport
/// (SO_REUSEADDR, so a restarted node gets its port back at once); the
/// bound port or CAF's error. Publish the typed handle: its interface is
/// what a peer's typed remote_actor/connect checks (caf-0.17.md 3.6).
template <class Handle>
caf::expected<uint16_t> mesh_publish(const Handle& whom, const std::string& host,
                                     uint16_t port) {
  auto& sys = whom.home_system();
  if (mesh_uses_tls(sys))
    return caf::openssl::publish(whom, port, host.c_str(), true);
  return sys.middleman().publish(whom, port, host.c_str(), true);
}

} // namespace quel
