#include "actors/redis_ops_actor.hpp"

#include "actors/outage_retry.hpp"
#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

housekeeping_report housekeeping(redis_queue& redis, const housekeeping_request& req) {
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

} // namespace

redis_ops_actor::behavior_type
redis_ops_impl(redis_ops_actor::stateful_pointer<redis_ops_state> self,
               redis_endpoint endpoint, std::shared_ptr<worker_metrics> metrics,
               std::shared_ptr<std::atomic<bool>> give_up) {
  self->state.redis = std::make_unique<redis_queue>(std::move(endpoint));
  self->state.metrics = std::move(metrics);
  self->state.give_up = std::move(give_up);
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& ep) {
    return failure_from_exception(ep);
  });
  auto run = [self](auto&& fn) {
    auto& s = self->state;
    return redis_call(*s.metrics, *s.give_up, [&] { return fn(*s.redis); });
  };
  return {
    [run](ack_atom, const std::string& processing,
          const std::string& id) -> caf::result<bool> {
      return run([&](redis_queue& r) {
        r.ack(processing, id);
        return true;
      });
    },
    [run](requeue_atom, const std::string& processing, const std::string& queue,
          const std::string& id) -> caf::result<bool> {
      return run([&](redis_queue& r) {
        r.requeue(processing, queue, id);
        return true;
      });
    },
    [run](dead_atom, const dead_letter_entry& e) -> caf::result<bool> {
      return run([&](redis_queue& r) {
        r.dead_letter(e);
        return true;
      });
    },
    [run](house_atom, const housekeeping_request& req)
      -> caf::result<housekeeping_report> {
      return run([&](redis_queue& r) { return housekeeping(r, req); });
    },
  };
}

} // namespace quel
