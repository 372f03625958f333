// Clears OpenSSL's error queue before every TLS I/O call of the process, a
// repair for caf::openssl in CAF 0.17.6 (docs/DISTRIBUTED.md "TLS").
//
// OpenSSL keeps one error queue per thread, and SSL_get_error() reports
// SSL_ERROR_SSL whenever that queue is not empty, so the queue must be empty
// before SSL_read/SSL_write/SSL_accept/SSL_connect (OpenSSL's SSL_get_error
// manual). CAF's session (libcaf_openssl/src/openssl/session.cpp) never
// clears it, and only drains it in log statements that Debian's build
// compiles out. So one failed handshake on the middleman's multiplexer
// thread (a client without a certificate, one of another CA, a plain node,
// a peer that disconnects) leaves an error behind, and the next SSL_read of
// a healthy connection on that thread that merely has to wait for more data
// (SSL_ERROR_WANT_READ) is taken as fatal: CAF closes it. Measured: any
// unauthenticated client could cut the mesh's TLS links that way, and two
// TLS connections between the same pair of nodes broke each other.
//
// These definitions interpose the libssl functions for the whole process
// (the executable's symbols come first in the dynamic lookup; libcaf_openssl
// and libcurl call them through the PLT), clear the queue, and call
// libssl's own. For libcurl this changes nothing: it clears the queue
// itself before these calls.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

template <class F>
F libssl(const char* name) {
  auto* f = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
  if (f == nullptr) {
    std::fprintf(stderr, "quel-worker: %s not found in libssl\n", name);
    std::abort();
  }
  return f;
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static const auto real = libssl<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static const auto real = libssl<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static const auto real = libssl<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

int SSL_connect(SSL* ssl) {
  static const auto real = libssl<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

} // extern "C"
