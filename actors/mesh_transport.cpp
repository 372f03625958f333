#include "actors/mesh_transport.hpp"

#include <algorithm>

#include "messages/generator_messages.hpp"
#include "messages/mesh_messages.hpp"

namespace quel {

void configure_mesh_transport(caf::actor_system_config& cfg,
                              std::chrono::milliseconds heartbeat_interval,
                              std::chrono::milliseconds connection_timeout) {
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", caf::timespan{heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{connection_timeout});
  register_mesh_types(cfg);
  register_generator_types(cfg);
}

caf::io::middleman_actor mesh_connector(caf::actor_system& sys) {
  return sys.middleman().actor_handle();
}

std::string interface_mismatch(const std::set<std::string>& offered,
                               const std::set<std::string>& expected) {
  // What caf::actor_system::assignable checks in remote_actor<Handle>().
  if (std::includes(offered.begin(), offered.end(), expected.begin(), expected.end()))
    return {};
  auto list = [](const std::set<std::string>& xs) {
    std::string out;
    for (auto& x : xs)
      out += (out.empty() ? "" : ", ") + x;
    return "[" + out + "]";
  };
  return "the actor there offers " + list(offered) + ", not " + list(expected)
         + " (another quel-worker version, or not a generator node)";
}

} // namespace quel
