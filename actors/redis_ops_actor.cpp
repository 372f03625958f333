#include "actors/redis_ops_actor.hpp"

#include "actors/guarded_call.hpp"
#include "actors/outage_retry.hpp"
#include "adapters/redis/housekeeping.hpp"
#include "messages/errors.hpp"

namespace quel {

redis_ops_actor::behavior_type
redis_ops_impl(redis_ops_actor::stateful_pointer<redis_ops_state> self,
               std::shared_ptr<queue_store> redis, std::shared_ptr<worker_metrics> metrics,
               std::shared_ptr<std::atomic<bool>> give_up) {
  auto run = guarded_runner(self, "redis_ops", redis_server, std::move(redis),
                            std::move(metrics), std::move(give_up));
  return {
    [run](ack_atom, const std::string& processing,
          const std::string& id) -> caf::result<bool> {
      return run([&](queue_store& r) {
        r.ack(processing, id);
        return true;
      });
    },
    [run](requeue_atom, const std::string& processing, const std::string& queue,
          const std::string& id) -> caf::result<bool> {
      return run([&](queue_store& r) {
        r.requeue(processing, queue, id);
        return true;
      });
    },
    [run](dead_atom, const dead_letter_entry& e) -> caf::result<bool> {
      return run([&](queue_store& r) {
        r.dead_letter(e);
        return true;
      });
    },
    [run](held_atom, const std::vector<std::string>& lists,
          const std::string& id) -> caf::result<bool> {
      return run([&](queue_store& r) { return r.holds_any(lists, id); });
    },
    [run](cancel_atom, const std::string& id) -> caf::result<bool> {
      return run([&](queue_store& r) { return r.cancel_requested(id); });
    },
    [run](house_atom, const housekeeping_request& req)
      -> caf::result<housekeeping_report> {
      return run([&](queue_store& r) { return run_housekeeping(r, req); });
    },
  };
}

} // namespace quel
