#include "adapters/redis/housekeeping.hpp"

#include "common/log.hpp"

namespace quel {

housekeeping_report run_housekeeping(queue_store& redis, const housekeeping_request& req) {
  housekeeping_report report;
  redis.renew_node_lease(req.node_id, std::chrono::milliseconds(req.lease_ttl_ms));
  if (req.reclaim_own)
    for (auto& q : req.queues)
      report.reclaimed += redis.reclaim_all(redis_keys::processing(req.node_id, q), q);
  for (auto& node : redis.known_nodes()) {
    if (node == req.node_id)
      continue;
    if (redis.node_alive(node)) {
      for (auto& q : req.queues)
        report.foreign_processing += redis.length(redis_keys::processing(node, q));
      continue;
    }
    // The node stopped renewing its lease: its ids go back to their queues
    // (PostgreSQL fencing keeps a paused node from writing afterwards).
    int64_t moved = 0;
    for (auto& q : req.queues)
      moved += redis.reclaim_all(redis_keys::processing(node, q), q);
    // Lists of queues this worker does not serve (worker.modules) are left
    // to the workers that do: they find the node only while it is known.
    if (!redis.has_processing_lists(node))
      redis.forget_node(node);
    if (moved > 0)
      log::warn("Took back ids of an expired node",
                {{"node", node}, {"ids", std::to_string(moved)}});
    report.reclaimed += moved;
  }
  for (auto& q : req.queues) {
    report.queued += redis.length(q);
    for (auto& id : redis.range(redis_keys::processing(req.node_id, q)))
      report.own_ids.emplace_back(q, id);
  }
  report.own_processing = static_cast<int64_t>(report.own_ids.size());
  return report;
}

} // namespace quel
