#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

/// The request and report of one housekeeping pass (adapters/redis/
/// housekeeping.hpp), plain values shared by the Redis port and the
/// redis_ops actor's messages.
namespace quel {

/// What one housekeeping pass is asked to do.
struct housekeeping_request {
  std::string node_id;
  int64_t lease_ttl_ms = 0;
  std::vector<std::string> queues;
  /// At start-up: move ids left in this node's own processing lists (a
  /// previous process with the same QUEL_NODE_ID) back to their queues.
  bool reclaim_own = false;
};

/// Lease upkeep and queue state after one pass.
struct housekeeping_report {
  int64_t queued = 0;            // ids waiting in our queues
  int64_t own_processing = 0;    // ids in this node's processing lists
  int64_t foreign_processing = 0;// ids held by other live nodes
  int64_t reclaimed = 0;         // ids taken back from expired nodes now
  /// (queue, id) of every id in this node's processing lists.
  std::vector<std::pair<std::string, std::string>> own_ids;
};

} // namespace quel
