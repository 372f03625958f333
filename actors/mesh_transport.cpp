#include "actors/mesh_transport.hpp"

#include <algorithm>

#include <caf/openssl/manager.hpp>

#include "messages/generator_messages.hpp"
#include "messages/mesh_messages.hpp"

namespace quel {

void configure_mesh_transport(caf::actor_system_config& cfg, const mesh_settings& m) {
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", caf::timespan{m.heartbeat_interval});
  cfg.set("middleman.connection-timeout", caf::timespan{m.connection_timeout});
  if (m.tls()) {
    // caf::openssl turns authentication on when any of these is set; then
    // every SSL context (accepting and connecting) demands a peer
    // certificate that chains to the CA (SSL_VERIFY_PEER |
    // SSL_VERIFY_FAIL_IF_NO_PEER_CERT, ciphers HIGH:!aNULL:!MD5). Without
    // them it would fall back to anonymous ciphers: never used here.
    cfg.openssl_certificate = m.tls_certificate;
    cfg.openssl_key = m.tls_key;
    cfg.openssl_passphrase = m.tls_key_passphrase;
    cfg.openssl_cafile = m.tls_ca;
    cfg.openssl_capath.clear();
    cfg.load<caf::openssl::manager>();
  }
  register_mesh_types(cfg);
  register_generator_types(cfg);
}

caf::io::middleman_actor mesh_connector(caf::actor_system& sys) {
  if (mesh_uses_tls(sys))
    return sys.openssl_manager().actor_handle();
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
