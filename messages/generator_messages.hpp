#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "messages/actor_types.hpp"
#include "messages/mesh_messages.hpp"

/// Generator nodes (`quel-worker serve-generator`, docs/DISTRIBUTED.md): the
/// actor a generator node publishes on mesh.listen and what crosses hosts
/// with it. Its messages are registered on every node (register_mesh_types,
/// register_generator_types).
namespace quel {

/// How busy a generator node is: calls it runs at once at most, and calls
/// it holds now (running and queued). Sent with every image it returns, so
/// a worker's picture of its free capacity stays fresh.
struct generator_status {
  int32_t capacity = 0;
  int32_t load = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, generator_status& x) {
  return f(caf::meta::type_name("quel::generator_status"), x.capacity, x.load);
}

/// The actor a generator node publishes. `mesh_hello` is the protocol
/// version check (and its reply names capacity and load in its roles);
/// `generate` runs one model call on the node's own generate actors and
/// answers with the image and the node's status. A node that already holds
/// as many calls as it may queue answers `generator_busy_error`.
using generator_node_actor = caf::typed_actor<
  caf::replies_to<mesh_hello_atom, mesh_hello>::with<mesh_hello>,
  caf::replies_to<generate_atom, generation_request>::with<generated_image, generator_status>>;

/// What a worker's router knows about one configured generator node
/// (`router_snapshot`, for tests and logs).
struct generator_node_view {
  std::string address;
  std::string node_id;       // empty until greeted
  bool up = false;
  int32_t capacity = 0;
  int32_t load = 0;          // as the node last reported it
  int32_t in_flight = 0;     // calls this worker has there now
  int64_t dispatched = 0;    // calls sent there since the start
  int64_t redispatched = 0;  // its calls sent elsewhere after it was lost
  std::string state;         // as `status` shows it (generator_node_state)
};

struct router_snapshot {
  std::vector<generator_node_view> nodes;
  int64_t local_calls = 0;   // calls that ran on the local generate actors
  int32_t waiting = 0;       // calls waiting for a node with free capacity
};

using router_atom = caf::atom_constant<caf::atom("genrouter")>;
using gen_tick_atom = caf::atom_constant<caf::atom("gentick")>;

/// The worker's router in front of the generator nodes (and the local
/// generate actors): a generate_actor for the model gate, plus a snapshot
/// of its nodes and its own reconnect tick. Local only.
using generator_router_actor = caf::typed_actor<
  caf::replies_to<generate_atom, generation_request>::with<generated_image>,
  caf::replies_to<router_atom>::with<router_snapshot>,
  caf::reacts_to<gen_tick_atom>>;

/// The worker's view of its generator nodes goes to Redis for `status`
/// through a detached writer (actors/generator_view_actor.hpp): the router
/// is cooperative and must not block on hiredis. Local only.
using gen_view_atom = caf::atom_constant<caf::atom("genview")>;
using generator_view_actor = caf::typed_actor<
  caf::replies_to<gen_view_atom, std::map<std::string, std::string>>::with<bool>>;

/// The category of the refusal of a full generator node: not a model
/// failure (a worker sends the call elsewhere or waits), so it is not a
/// "quel" error that would count against the image's attempts.
constexpr caf::atom_value generator_busy_category = caf::atom("genbusy");

caf::error generator_busy_error(const std::string& node_id, int32_t load);

/// roles of a generator node's hello: "generator", "capacity=N", "load=N".
std::vector<std::string> generator_roles(const generator_status& s);

/// The status a hello's roles announce; nullopt when it is no generator.
std::optional<generator_status> generator_status_of(const mesh_hello& hello);

/// Registers the generator node's own message types (beside
/// register_mesh_types, which every mesh node calls).
inline void register_generator_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<generator_status>("quel::generator_status");
}

} // namespace quel

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::router_snapshot)
