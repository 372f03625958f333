#include "actors/mesh_node_actor.hpp"

#include "common/log.hpp"

namespace quel {

std::string mesh_hello_refusal(const mesh_hello& own, const mesh_hello& peer) {
  if (peer.protocol != own.protocol)
    return "mesh protocol version mismatch: this node speaks "
           + std::to_string(own.protocol) + ", the peer "
           + std::to_string(peer.protocol) + "; run the same quel-worker version everywhere";
  if (peer.node_id == own.node_id)
    return "the peer uses this node's own id " + own.node_id;
  return {};
}

mesh_node_actor::behavior_type mesh_node_impl(mesh_node_actor::pointer self, mesh_hello own,
                                              mesh_actor coordinator) {
  own.node = caf::actor_cast<caf::strong_actor_ptr>(self);
  // The coordinator puts this handle into its own hellos.
  if (coordinator)
    self->send(coordinator, mesh_inbound_atom::value, own);
  return {
    [own, coordinator](mesh_hello_atom, const mesh_hello& peer) -> caf::result<mesh_hello> {
      auto why = mesh_hello_refusal(own, peer);
      if (!why.empty()) {
        log::error("Refused a mesh peer", {{"peer", peer.node_id},
                                           {"peer_address", peer.address},
                                           {"reason", why}});
        return caf::make_error(caf::sec::invalid_argument, why);
      }
      if (coordinator && peer.node)
        caf::anon_send(coordinator, mesh_inbound_atom::value, peer);
      return own;
    },
  };
}

} // namespace quel
