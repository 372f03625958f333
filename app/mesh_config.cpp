#include "app/mesh_config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <memory>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

#include "app/worker_config.hpp"
#include "common/log_text.hpp"

namespace quel {

namespace {

struct tls_file {
  const char* key;
  const char* variable;
  const std::string* path;
};

std::string named(const tls_file& f) {
  return std::string{f.key} + " (" + f.variable + ")";
}

void check_readable(const tls_file& f) {
  struct stat st {};
  if (::stat(f.path->c_str(), &st) != 0)
    throw config_error(named(f) + " " + clip_text(*f.path, max_id_chars)
                       + " cannot be read: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw config_error(named(f) + " " + clip_text(*f.path, max_id_chars)
                       + " is not a regular file");
  if (::access(f.path->c_str(), R_OK) != 0)
    throw config_error(named(f) + " " + clip_text(*f.path, max_id_chars)
                       + " cannot be read: " + std::strerror(errno));
}

/// OpenSSL's queued errors as one line (and the queue emptied).
std::string ssl_errors() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? std::string{"no detail from OpenSSL"} : out;
}

/// Always installed: without a callback OpenSSL would prompt on the
/// terminal for an encrypted key's passphrase.
int passphrase_cb(char* buf, int size, int, void* user) {
  auto* pass = static_cast<const std::string*>(user);
  if (pass == nullptr || pass->empty() || size <= 0)
    return 0;
  auto n = std::min(pass->size(), static_cast<size_t>(size - 1));
  std::memcpy(buf, pass->data(), n);
  buf[n] = '\0';
  return static_cast<int>(n);
}

struct ctx_free {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct store_ctx_free {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};

/// Does this node's certificate chain to the CA for `purpose`? Peers check
/// exactly that (OpenSSL's default verification: a server verifies its
/// client for ssl_client, a client its server for ssl_server).
std::string verify_own(SSL_CTX* ctx, int purpose) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  std::unique_ptr<X509_STORE_CTX, store_ctx_free> v{X509_STORE_CTX_new()};
  if (!v || X509_STORE_CTX_init(v.get(), SSL_CTX_get_cert_store(ctx), cert, chain) != 1)
    return "cannot set up the verification: " + ssl_errors();
  X509_STORE_CTX_set_purpose(v.get(), purpose);
  if (X509_verify_cert(v.get()) == 1)
    return {};
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(v.get()));
}

/// The same loading calls as caf::openssl's session (create_ssl_context).
void preflight(const mesh_settings& m) {
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, ctx_free> ctx{SSL_CTX_new(TLS_method())};
  if (!ctx)
    throw config_error("mesh TLS: cannot create an OpenSSL context: " + ssl_errors());
  auto pass = m.tls_key_passphrase;
  SSL_CTX_set_default_passwd_cb(ctx.get(), passphrase_cb);
  SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), &pass);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), m.tls_certificate.c_str()) != 1)
    throw config_error("mesh.tls_certificate (QUEL_MESH_TLS_CERTIFICATE) "
                       + clip_text(m.tls_certificate, max_id_chars)
                       + " is not a PEM certificate chain: " + ssl_errors());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), m.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL 3 compares the key with the certificate while loading it.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      throw config_error("mesh.tls_key (QUEL_MESH_TLS_KEY) does not belong to the "
                         "certificate in mesh.tls_certificate: " + ssl_errors());
    throw config_error("mesh.tls_key (QUEL_MESH_TLS_KEY) "
                       + clip_text(m.tls_key, max_id_chars)
                       + " cannot be loaded as a PEM private key"
                       + (pass.empty() ? std::string{" (if it is encrypted, set "
                                                     "QUEL_MESH_TLS_KEY_PASSPHRASE)"}
                                       : std::string{" with QUEL_MESH_TLS_KEY_PASSPHRASE"})
                       + ": " + ssl_errors());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw config_error("mesh.tls_key (QUEL_MESH_TLS_KEY) does not belong to the certificate "
                       "in mesh.tls_certificate: " + ssl_errors());
  if (SSL_CTX_load_verify_locations(ctx.get(), m.tls_ca.c_str(), nullptr) != 1)
    throw config_error("mesh.tls_ca (QUEL_MESH_TLS_CA) " + clip_text(m.tls_ca, max_id_chars)
                       + " is not a PEM CA certificate file: " + ssl_errors());
  const std::pair<int, const char*> roles[] = {{X509_PURPOSE_SSL_SERVER, "server"},
                                               {X509_PURPOSE_SSL_CLIENT, "client"}};
  for (auto [purpose, role] : roles) {
    auto why = verify_own(ctx.get(), purpose);
    if (!why.empty())
      throw config_error("mesh.tls_certificate (QUEL_MESH_TLS_CERTIFICATE) is not accepted "
                         "by mesh.tls_ca (QUEL_MESH_TLS_CA) as a TLS " + std::string{role}
                         + " certificate, so every peer would refuse this node: " + why);
  }
}

} // namespace

bool loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void check_mesh_security(const mesh_settings& m) {
  const tls_file files[] = {
    {"mesh.tls_certificate", "QUEL_MESH_TLS_CERTIFICATE", &m.tls_certificate},
    {"mesh.tls_key", "QUEL_MESH_TLS_KEY", &m.tls_key},
    {"mesh.tls_ca", "QUEL_MESH_TLS_CA", &m.tls_ca},
  };
  int set = 0;
  for (auto& f : files)
    set += f.path->empty() ? 0 : 1;
  if (set > 0 && set < 3) {
    for (auto& f : files)
      if (f.path->empty())
        throw config_error(named(f) + " is not set: mesh TLS needs mesh.tls_certificate, "
                           "mesh.tls_key and mesh.tls_ca together");
  }
  if (set == 0 && !m.tls_key_passphrase.empty())
    throw config_error("QUEL_MESH_TLS_KEY_PASSPHRASE is set but mesh TLS is not "
                       "(mesh.tls_certificate, mesh.tls_key, mesh.tls_ca)");
  if (set == 3) {
    for (auto& f : files)
      check_readable(f);
    preflight(m);
    return;
  }
  if (m.enabled && !loopback_host(m.host) && !m.insecure)
    throw config_error("mesh.listen (QUEL_MESH_LISTEN) " + clip_text(m.address(), max_id_chars)
                       + " is not a loopback address: plain mesh connections are neither "
                         "encrypted nor authenticated; set mesh.tls_certificate, mesh.tls_key "
                         "and mesh.tls_ca for mutual TLS, or mesh.insecure = true to allow "
                         "plain ones on a trusted network");
}

} // namespace quel
