#include "adapters/redis/queue_store.hpp"

#include <nlohmann/json.hpp>

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

std::string dead_letter_entry::to_json() const {
  // ordered_json keeps the contract's field order, which is easier to read
  // in `redis-cli lrange jobs:dead`.
  nlohmann::ordered_json j;
  j["id"] = id;
  j["queue"] = queue;
  j["reason"] = reason;
  j["at"] = at;
  // A dead-lettered id may be any bytes a producer pushed; invalid UTF-8 is
  // replaced rather than thrown on, so the entry is always written.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

} // namespace quel
