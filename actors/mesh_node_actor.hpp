#pragma once

#include "messages/mesh_messages.hpp"

namespace quel {

/// The actor a node publishes on mesh.listen: it answers a peer's hello with
/// its own, and refuses a peer of another protocol version with a clear log
/// line (the peer logs its side too); an accepted hello is passed to the
/// local mesh actor (`coordinator`), which then monitors the peer's node
/// actor carried in it. Peers monitor it to notice this node going away.
/// Holds no state worth restarting.
mesh_node_actor::behavior_type mesh_node_impl(mesh_node_actor::pointer self, mesh_hello own,
                                              mesh_actor coordinator);

/// Empty when `peer` may join; otherwise why not (for the log and the error).
std::string mesh_hello_refusal(const mesh_hello& own, const mesh_hello& peer);

} // namespace quel
