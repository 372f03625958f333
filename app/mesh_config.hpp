#pragma once

#include "actors/mesh_settings.hpp"

/// The mesh's security settings checked at start-up (docs/DISTRIBUTED.md
/// "TLS"), so that a wrong path or a mismatched key stops the worker with the
/// key's name instead of failing inside CAF's multiplexer at the first
/// connection (caf::openssl raises an exception there, which ends the
/// process).
namespace quel {

/// Throws config_error naming the key when:
/// - only some of mesh.tls_certificate, mesh.tls_key, mesh.tls_ca are set
///   (or the key passphrase without them);
/// - a file is missing, unreadable or not a regular file;
/// - OpenSSL cannot load them as caf::openssl will (certificate chain, key
///   with its passphrase, CA file), the key does not belong to the
///   certificate, or this node's own certificate does not chain to the CA
///   for TLS clients and servers (every peer with the same CA would refuse
///   it);
/// - the mesh listens in plain mode on a non-loopback address without
///   mesh.insecure = true.
void check_mesh_security(const mesh_settings& m);

/// True for localhost, ::1 and 127.0.0.0/8.
bool loopback_host(const std::string& host);

} // namespace quel
