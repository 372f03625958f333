#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "messages/wire_types.hpp"

/// The worker mesh's protocol (docs/DISTRIBUTED.md). Unlike every other
/// message of the worker, these cross hosts, so each type has an inspect()
/// and is registered on every node (register_mesh_types) before the actor
/// system starts (caf-0.17.md 3.2: an unregistered type goes out as zero
/// bytes without an error).
namespace quel {

/// Bumped whenever a message that crosses hosts changes; nodes of different
/// versions refuse each other at the hello.
/// 2: generator nodes (generation requests and images cross hosts;
///    wire_types.hpp, generator_messages.hpp), and the hello carries the
///    sender's node actor (one connection per pair of workers).
constexpr uint32_t mesh_protocol_version = 2;

using mesh_hello_atom = caf::atom_constant<caf::atom("meshhello")>;
using mesh_peers_atom = caf::atom_constant<caf::atom("meshpeers")>;
using mesh_check_atom = caf::atom_constant<caf::atom("meshcheck")>;
using mesh_take_atom = caf::atom_constant<caf::atom("meshtake")>;
using mesh_clear_atom = caf::atom_constant<caf::atom("meshclear")>;
using mesh_tick_atom = caf::atom_constant<caf::atom("meshtick")>;
using mesh_inbound_atom = caf::atom_constant<caf::atom("meshin")>;

/// What a node says about itself when it connects. `roles` names what it
/// offers ("worker"; a generator node says "generator", "capacity=N",
/// "load=N", see generator_messages.hpp), so a node can tell peers it
/// monitors for takeover from peers it sends work to.
///
/// Its layout is frozen from protocol 2 on: nodes of any two versions must
/// be able to read each other's hello to refuse a version mismatch with a
/// clear log line (a changed layout would fail to deserialise instead; a
/// protocol-1 node, from before generator nodes, cannot read it). New facts
/// go into `roles` or into messages of their own.
struct mesh_hello {
  uint32_t protocol = mesh_protocol_version;
  std::string node_id;
  std::string address;  // host:port it publishes on
  std::vector<std::string> roles;
  /// The sender's node actor: the node that was dialled monitors it, so
  /// that only one side of each pair opens a connection (see
  /// mesh_dials in actors/mesh_actor.hpp).
  caf::strong_actor_ptr node;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mesh_hello& x) {
  return f(caf::meta::type_name("quel::mesh_hello"), x.protocol, x.node_id, x.address,
           x.roles, x.node);
}

/// The actor each node publishes on mesh.listen. Peers monitor it: its
/// down_msg (remote_link_unreachable) is how a node learns that a peer died
/// or was cut off (caf-0.17.md 3.7). New capabilities are added as further
/// handlers here or as further published actors named in `roles`.
using mesh_node_actor = caf::typed_actor<
  caf::replies_to<mesh_hello_atom, mesh_hello>::with<mesh_hello>>;

/// Local only: the coordinator and its Redis/PostgreSQL helper.
using mesh_actor = caf::typed_actor<
  caf::reacts_to<mesh_tick_atom>,
  // from the local node actor: a peer dialled this node and said hello
  caf::reacts_to<mesh_inbound_atom, mesh_hello>,
  caf::reacts_to<mesh_check_atom, std::string, uint64_t>>;

using mesh_registry_actor = caf::typed_actor<
  // write this node's view of its peers (peer -> JSON: state, address, last
  // seen; read by `quel-worker status`), advertise this node, then every
  // advertised node -> address
  caf::replies_to<mesh_peers_atom, std::map<std::string, std::string>>::with<
    std::map<std::string, std::string>>,
  // elect this node taker of the named node and, if elected, take over
  caf::replies_to<mesh_take_atom, std::string>::with<std::string>,
  caf::reacts_to<mesh_clear_atom>>;

/// Registers every type that crosses hosts; call on each node's config
/// (workers and generator nodes alike).
inline void register_mesh_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<mesh_hello>("quel::mesh_hello");
  cfg.add_message_type<blob>("quel::blob");
  cfg.add_message_type<image_identity>("quel::image_identity");
  cfg.add_message_type<generation_input>("quel::generation_input");
  cfg.add_message_type<generation_request>("quel::generation_request");
  cfg.add_message_type<generated_image>("quel::generated_image");
}

} // namespace quel
