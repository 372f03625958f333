#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "actors/mesh_settings.hpp"
#include "adapters/postgres/pg_connection.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "messages/mesh_messages.hpp"

/// The mesh's blocking half (detached: hiredis and libpqxx block): it
/// advertises this node's mesh address in Redis beside its node lease, lists
/// the peers, and runs a takeover once the mesh actor asks for one.
namespace quel {

struct mesh_registry_state {
  std::shared_ptr<redis_queue> redis;  // shared with the exit hook
  std::unique_ptr<pg_connection> db;
  std::string node_id;
  std::string address;
  /// Every queue of the modules file: a dead node's lists of queues this
  /// node does not serve go back to their queues too.
  std::vector<std::string> queues;
  /// Lifetime of the address and of a takeover mark (the node lease's).
  std::chrono::milliseconds ttl{30000};
};

/// Takeover, only after winning the Redis election (one taker per dead
/// node): PostgreSQL first (the dead node's unfinished jobs get a new epoch
/// and an expired lease, pg_takeover.hpp), then its processing lists go back
/// to the consuming end of their queues, then its address and node lease go.
/// Replies "won <jobs fenced> <ids requeued>", "lost", "self" (this node
/// was itself taken over: the other side of a split) or "gone" (it left
/// cleanly); an error when Redis is unreachable (the caller retries).
/// On exit it withdraws this node's address, so peers do not take over a
/// node that stopped cleanly.
mesh_registry_actor::behavior_type
mesh_registry_impl(mesh_registry_actor::stateful_pointer<mesh_registry_state> self,
                   std::shared_ptr<redis_queue> redis, std::string database_url,
                   std::string node_id, std::string address,
                   std::vector<std::string> queues, std::chrono::milliseconds ttl);

} // namespace quel
