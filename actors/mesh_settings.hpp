#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

/// The worker mesh's settings (config/worker.ini [mesh], docs/DISTRIBUTED.md).
namespace quel {

struct mesh_settings {
  bool enabled = false;            // mesh.listen set
  std::string host;                // where the node actor is published
  uint16_t port = 0;
  bool insecure = false;           // plain mode on a non-loopback address
  /// Mutual TLS through caf::openssl (docs/DISTRIBUTED.md "TLS"): all three
  /// paths set, or none (plain mode). The passphrase of an encrypted key
  /// comes only from the environment (QUEL_MESH_TLS_KEY_PASSPHRASE).
  std::string tls_certificate;     // PEM chain: this node's certificate first
  std::string tls_key;             // PEM private key of that certificate
  std::string tls_ca;              // PEM CA certificate(s) peers must chain to
  std::string tls_key_passphrase;
  /// CAF heartbeats, the same on every node (caf-0.17.md 3.7).
  std::chrono::milliseconds heartbeat_interval{250};
  std::chrono::milliseconds connection_timeout{1500};
  /// A lost peer that is not back within this long is taken over.
  std::chrono::milliseconds grace{250};
  /// How often the node re-advertises itself and (re)connects to peers.
  std::chrono::milliseconds retry_interval{500};
  /// Generator nodes this worker sends its model calls to (host:port each,
  /// mesh.generators); empty: every call runs on the local generate actors.
  std::vector<std::string> generators;
  /// mesh.generator_fallback = local: while no generator node is up, calls
  /// run on the local generate actors; otherwise (wait) they wait for one.
  bool generator_fallback_local = false;

  /// CAF's middleman is needed: a node is published, or generator nodes
  /// are connected to.
  bool networked() const { return enabled || !generators.empty(); }

  bool tls() const { return !tls_certificate.empty(); }

  std::string address() const { return host + ":" + std::to_string(port); }
};

} // namespace quel
