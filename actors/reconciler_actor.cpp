#include "actors/reconciler_actor.hpp"

#include <set>

#include "common/log.hpp"
#include "domain/reconcile_rule.hpp"

namespace quel {

namespace {

using self_ptr = reconciler_actor::stateful_pointer<reconciler_state>;

/// Every id in a queue or in any node's processing list for those queues.
/// `modules` are all the known modules, not only the served ones: an id of
/// another module waiting in its queue, or held by a worker serving it, is
/// present too and must not be pushed again.
std::set<std::string> ids_in_redis(queue_store& redis, const module_catalog& modules) {
  std::set<std::string> ids;
  auto add = [&](const std::string& list) {
    for (auto& id : redis.range(list))
      ids.insert(id);
  };
  auto nodes = redis.known_nodes();
  for (auto& m : modules.all()) {
    add(m.queue);
    for (auto& node : nodes)
      add(redis_keys::processing(node, m.queue));
  }
  return ids;
}

int reconcile_once(self_ptr self) {
  auto& st = self->state;
  auto stale = st.db->unfinished_jobs_older_than(st.min_age_seconds);
  if (stale.empty())
    return 0;
  auto present = ids_in_redis(*st.redis, st.modules);
  int pushed = 0;
  for (auto& id : stale) {
    bool is_present = present.count(id) > 0;
    std::optional<std::string> module;
    if (!is_present)
      module = st.db->module_of_job(id);
    auto decision = decide_reconcile(is_present, module, st.modules);
    switch (decision.what) {
      case reconcile_decision::kind::leave_present:
        break;
      case reconcile_decision::kind::push:
        st.redis->push(decision.queue, id);
        log::job_warn(id, "Reconciler: unfinished job had no id in Redis; re-enqueued",
                      {{"queue", decision.queue}});
        ++pushed;
        break;
      case reconcile_decision::kind::leave_unknown:
        // Said once per process: the job stays unfinished until a worker
        // that knows its module, or an operator, takes it up.
        if (st.reported_unknown.insert(id).second)
          log::job_error(id, "Reconciler: unfinished job had no id in Redis, but its module "
                             "is not a configured module; not re-enqueued",
                         {{"module", module.value_or("")}});
        break;
    }
  }
  return pushed;
}

} // namespace

reconciler_actor::behavior_type
reconciler_impl(reconciler_actor::stateful_pointer<reconciler_state> self,
                std::string database_url, std::shared_ptr<queue_store> redis,
                module_catalog modules, std::chrono::milliseconds interval,
                double min_age_seconds) {
  auto& st = self->state;
  st.db = std::make_unique<pg_admin>(database_url);
  st.redis = std::move(redis);
  st.modules = std::move(modules);
  st.interval = interval;
  st.min_age_seconds = min_age_seconds;
  self->delayed_send(self, interval, reconcile_atom::value);
  return {
    [self](reconcile_atom) {
      try {
        reconcile_once(self);
      } catch (const std::exception& e) {
        // An outage only delays the next pass.
        log::limited(log::level::warn, "reconciler", 60000, "Reconciler pass failed",
                     {{"error", e.what()}});
      }
      self->delayed_send(self, self->state.interval, reconcile_atom::value);
    },
  };
}

} // namespace quel
