#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <caf/io/middleman_actor.hpp>

#include "actors/mesh_settings.hpp"
#include "messages/mesh_messages.hpp"

/// The worker mesh's coordinator (docs/DISTRIBUTED.md), cooperative: it
/// connects to every advertised peer through CAF's middleman (asynchronously,
/// retrying every mesh.retry_interval so nodes can join later), exchanges a
/// hello (protocol version), monitors each peer's node actor, and when a peer
/// is lost and not back within mesh.grace asks the registry to take it over.
namespace quel {

struct mesh_peer {
  std::string address;
  mesh_node_actor handle;        // set while connected and greeted
  bool connecting = false;
  std::string connect_error;     // the last failed connect's error (logged once)
  bool ever_up = false;          // only a peer that was up is taken over
  bool down = false;
  bool taking_over = false;
  uint64_t generation = 0;       // bumped at each loss: stale checks are ignored
  std::chrono::steady_clock::time_point lost_at;
  /// Wall clock, for `status`: while up, the last tick that found the
  /// connection alive (CAF heartbeats keep it checked within
  /// mesh.connection_timeout); once lost, when that was noticed.
  std::chrono::system_clock::time_point last_seen{};
};

/// A peer taken over (or gone), still shown as "down" by `status` for
/// mesh_departed_keep after it went.
struct mesh_departed {
  std::string address;
  std::chrono::system_clock::time_point last_seen{};
  std::chrono::steady_clock::time_point since;
};

constexpr std::chrono::seconds mesh_departed_keep{60};

struct mesh_state {
  mesh_settings settings;
  mesh_hello own;
  mesh_registry_actor registry;
  std::map<std::string, mesh_peer> peers;
  std::map<std::string, mesh_departed> departed;
  /// Makes outgoing connections: the middleman's or caf::openssl's
  /// (actors/mesh_transport.hpp), so every connect uses the node's transport.
  caf::io::middleman_actor connector;
  /// This node was found taken over by a peer (a split): the mark is
  /// cleared once it greets a peer again.
  bool was_taken_over = false;
  /// The registry's last answer was an error (logged once per outage).
  bool registry_down = false;
  /// A peers request to the registry is outstanding.
  bool listing = false;
};

mesh_actor::behavior_type mesh_impl(mesh_actor::stateful_pointer<mesh_state> self,
                                    mesh_settings settings, mesh_hello own,
                                    mesh_registry_actor registry,
                                    caf::io::middleman_actor connector);

/// This node's view of its peers for `status` (peer -> JSON object text):
/// state up / suspected (lost, within the grace or being taken over) /
/// down (taken over or gone; kept mesh_departed_keep) / unreachable
/// (this node dials it and the last attempt failed: e.g. refused by TLS) /
/// connecting (not greeted yet: the peer dials this node), address,
/// last_seen_ms (Unix ms or null), load (null: not known for a worker) and
/// the last connect error.
std::map<std::string, std::string> mesh_view(const mesh_state& st);

/// Whether this node opens the connection to `peer`: only the node with the
/// smaller id dials, the other learns of it from its hello. One connection
/// per pair halves the sockets and keeps clear of BASP's handling of a
/// redundant connection. It was found needed with caf::openssl in CAF
/// 0.17.6, where a second TLS connection between two nodes broke both; the
/// cause was OpenSSL's error queue (app/openssl_error_queue.cpp), and with
/// that repaired two connections per pair also work (docs/DISTRIBUTED.md
/// "TLS"), but the mesh keeps to one.
inline bool mesh_dials(const std::string& own, const std::string& peer) {
  return own < peer;
}

/// Splits "host:port" (IPv6 in brackets); false when malformed.
bool split_host_port(const std::string& text, std::string& host, uint16_t& port);

} // namespace quel
