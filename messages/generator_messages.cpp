#include "messages/generator_messages.hpp"

#include <cstdlib>

namespace quel {

caf::error generator_busy_error(const std::string& node_id, int32_t load) {
  return caf::error{1, generator_busy_category,
                    caf::make_message("generator node " + node_id + " is full ("
                                      + std::to_string(load) + " calls held)")};
}

std::vector<std::string> generator_roles(const generator_status& s) {
  return {"generator", "capacity=" + std::to_string(s.capacity),
          "load=" + std::to_string(s.load)};
}

std::optional<generator_status> generator_status_of(const mesh_hello& hello) {
  bool generator = false;
  generator_status s;
  for (auto& role : hello.roles) {
    if (role == "generator")
      generator = true;
    else if (role.rfind("capacity=", 0) == 0)
      s.capacity = static_cast<int32_t>(std::strtol(role.c_str() + 9, nullptr, 10));
    else if (role.rfind("load=", 0) == 0)
      s.load = static_cast<int32_t>(std::strtol(role.c_str() + 5, nullptr, 10));
  }
  if (!generator || s.capacity <= 0)
    return std::nullopt;
  return s;
}

} // namespace quel
