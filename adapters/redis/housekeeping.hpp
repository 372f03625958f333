#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "adapters/redis/queue_store.hpp"

/// The node's periodic Redis upkeep, as plain code on the queue_store port:
/// renew this node's lease, reap nodes whose lease expired, and report what
/// the queues hold. redis_ops_actor runs it; unit tests run it on a fake.
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

/// One pass: renews the node lease, (at start-up) reclaims this node's own
/// leftovers, returns the ids of every other node whose lease expired to
/// their queues and forgets that node, then counts the queues and lists
/// this node's own ids. Throws what the store throws; every step is
/// idempotent, so a pass cut short by an outage is simply run again.
housekeeping_report run_housekeeping(queue_store& redis, const housekeeping_request& req);

} // namespace quel
