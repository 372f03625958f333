#include "actors/mesh_registry_actor.hpp"

#include "adapters/postgres/pg_takeover.hpp"
#include "common/log.hpp"

namespace quel {

namespace {

std::string take_over(mesh_registry_state& st, const std::string& dead) {
  auto started = std::chrono::steady_clock::now();
  switch (st.redis->elect_taker(dead, st.node_id, st.ttl)) {
    case redis_queue::election::lost: return "lost";
    case redis_queue::election::self_taken_over: return "self";
    case redis_queue::election::gone: return "gone";
    case redis_queue::election::won: break;
  }
  // PostgreSQL before Redis: once an id is back on its queue any node may
  // claim it, and the claim must find the lease already expired.
  int64_t fenced = -1;
  try {
    fenced = take_over_node_jobs(*st.db, dead);
  } catch (const std::exception& e) {
    // Its jobs still come back when their leases expire (the fallback).
    log::warn("Mesh takeover could not fence the dead node's jobs in PostgreSQL; "
              "they wait for their leases",
              {{"node", dead}, {"error", e.what()}});
  }
  // Again until nothing moves: a partitioned (not dead) node may still have
  // a BLMOVE blocked in Redis, which Redis serves with the first id pushed
  // back, into the cut-off node's list; its connection then blocks no more.
  int64_t moved = 0;
  for (int pass = 0; pass < 3; ++pass) {
    int64_t this_pass = 0;
    for (auto& q : st.queues)
      this_pass += st.redis->reclaim_all(redis_keys::processing(dead, q), q);
    moved += this_pass;
    if (this_pass == 0)
      break;
  }
  st.redis->forget_mesh_node(dead);
  if (!st.redis->has_processing_lists(dead))
    st.redis->forget_node(dead);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - started).count();
  log::warn("Took over a dead mesh peer",
            {{"node", dead}, {"jobs_fenced", std::to_string(fenced)},
             {"ids_requeued", std::to_string(moved)}, {"took_ms", std::to_string(ms)}});
  return "won " + std::to_string(fenced) + " " + std::to_string(moved);
}

caf::error failure(const std::exception& e) {
  return caf::make_error(caf::sec::runtime_error, std::string{e.what()});
}

} // namespace

mesh_registry_actor::behavior_type
mesh_registry_impl(mesh_registry_actor::stateful_pointer<mesh_registry_state> self,
                   std::shared_ptr<redis_queue> redis, std::string database_url,
                   std::string node_id, std::string address,
                   std::vector<std::string> queues, std::chrono::milliseconds ttl) {
  auto& st = self->state;
  st.redis = std::move(redis);
  st.db = std::make_unique<pg_connection>(std::move(database_url));
  st.node_id = std::move(node_id);
  st.address = std::move(address);
  st.queues = std::move(queues);
  st.ttl = ttl;
  try {
    st.redis->clear_takeover_mark(st.node_id);
  } catch (const std::exception&) {
    // Redis down at start: the mark, if any, expires on its own.
  }
  // The state is gone when attached functors run: they keep their own copies.
  self->attach_functor([redis = st.redis, node = st.node_id] {
    try {
      redis->leave_mesh(node);
    } catch (const std::exception&) {
      // Peers then take over a node with nothing left: harmless.
    }
  });
  return {
    [self](mesh_peers_atom, const std::map<std::string, std::string>& view)
      -> caf::result<std::map<std::string, std::string>> {
      auto& st = self->state;
      try {
        st.redis->publish_mesh_view(st.node_id, view, st.ttl);
        st.redis->advertise_mesh(st.node_id, st.address, st.ttl);
        auto nodes = st.redis->mesh_nodes();
        return std::map<std::string, std::string>(nodes.begin(), nodes.end());
      } catch (const std::exception& e) {
        return failure(e);
      }
    },
    [self](mesh_take_atom, const std::string& dead) -> caf::result<std::string> {
      try {
        return take_over(self->state, dead);
      } catch (const std::exception& e) {
        return failure(e);
      }
    },
    [self](mesh_clear_atom) {
      try {
        self->state.redis->clear_takeover_mark(self->state.node_id);
      } catch (const std::exception&) {
        // Tried again at the next reconnect.
      }
    },
  };
}

} // namespace quel
