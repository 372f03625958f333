#include "domain/dead_letter.hpp"

#include <nlohmann/json.hpp>

namespace quel {

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
