#include "adapters/redis/queue_store.hpp"

namespace quel {

std::string redis_keys::processing(const std::string& node,
                                   const std::string& queue) {
  // Node ids never contain ':' (CONTRACT rule 27), so the node is always the
  // third segment even though queue names contain ':'.
  return "quel:processing:" + node + ":" + queue;
}

std::string redis_keys::node_lease(const std::string& node) {
  return "quel:node:" + node;
}

std::string redis_keys::nodes() {
  return "quel:nodes";
}

std::string redis_keys::dead_letter() {
  return "jobs:dead";
}

std::string redis_keys::paused() {
  return "quel:paused";
}

std::string redis_keys::cancel(const std::string& job_id) {
  return "quel:cancel:" + job_id;
}

std::string redis_keys::generator_view(const std::string& node) {
  return "quel:mesh:generators:" + node;
}

std::string redis_keys::generator_views() {
  return "quel:mesh:generator_views";
}

} // namespace quel
