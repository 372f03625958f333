// The mesh's security settings (app/mesh_config.cpp): TLS files are checked
// at start with OpenSSL the way caf::openssl loads them, and plain mode stays
// on loopback unless mesh.insecure. Certificates come from the tests'
// throwaway CA script (tests/distributed/make_mesh_certs.sh, openssl CLI).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "app/mesh_config.hpp"
#include "app/worker_config.hpp"
#include "tests/support/process_env.hpp"

namespace {

using quel::mesh_settings;

int run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

/// One CA "ca" with nodes a and b, another CA "other" with node rogue, a
/// node "server_only" of ca usable only as a TLS server, a's key encrypted.
struct certs {
  std::string dir = quel::test::make_temp_dir("quel-mesh-certs");
  certs() {
    std::string script = std::string{QUEL_SOURCE_DIR} + "/tests/distributed/make_mesh_certs.sh";
    REQUIRE(run(script + " " + dir + " ca a b") == 0);
    REQUIRE(run(script + " " + dir + " other rogue") == 0);
    REQUIRE(run("MESH_CERT_EKU=serverAuth " + script + " " + dir + " ca server_only") == 0);
    REQUIRE(run("openssl pkey -in " + dir + "/a.key -aes256 -passout pass:s3cret -out " + dir
                + "/a.enc.key") == 0);
  }
  std::string operator()(const std::string& name) const { return dir + "/" + name; }

  mesh_settings node(const std::string& name, const std::string& ca = "ca") const {
    mesh_settings m;
    m.enabled = true;
    m.host = "10.1.2.3";
    m.port = 7400;
    m.tls_certificate = (*this)(name + ".crt");
    m.tls_key = (*this)(name + ".key");
    m.tls_ca = (*this)(ca + ".crt");
    return m;
  }
};

std::string refusal(const mesh_settings& m) {
  try {
    quel::check_mesh_security(m);
  } catch (const quel::config_error& e) {
    return e.what();
  }
  return {};
}

mesh_settings plain(const std::string& host) {
  mesh_settings m;
  m.enabled = true;
  m.host = host;
  m.port = 7400;
  return m;
}

} // namespace

TEST_CASE("plain mesh mode binds to loopback unless mesh.insecure", "[mesh][config]") {
  CHECK(refusal(plain("127.0.0.1")).empty());
  CHECK(refusal(plain("localhost")).empty());
  CHECK(refusal(plain("::1")).empty());
  auto why = refusal(plain("10.1.2.3"));
  CHECK_THAT(why, Catch::Contains("mesh.listen (QUEL_MESH_LISTEN) 10.1.2.3:7400"));
  CHECK_THAT(why, Catch::Contains("mesh.insecure"));
  CHECK_THAT(refusal(plain("0.0.0.0")), Catch::Contains("mesh.listen"));
  auto insecure = plain("10.1.2.3");
  insecure.insecure = true;
  CHECK(refusal(insecure).empty());
  // The mesh off: nothing to bind.
  CHECK(refusal(mesh_settings{}).empty());
}

TEST_CASE("mesh TLS needs its certificate, key and CA together", "[mesh][config]") {
  certs c;
  CHECK(refusal(c.node("a")).empty());  // a non-loopback address is fine with TLS
  auto m = c.node("a");
  m.tls_key.clear();
  CHECK_THAT(refusal(m), Catch::Contains("mesh.tls_key (QUEL_MESH_TLS_KEY) is not set"));
  m = c.node("a");
  m.tls_ca.clear();
  CHECK_THAT(refusal(m), Catch::Contains("mesh.tls_ca (QUEL_MESH_TLS_CA) is not set"));
  m = c.node("a");
  m.tls_certificate.clear();
  m.tls_key.clear();
  CHECK_THAT(refusal(m), Catch::Contains("mesh.tls_certificate (QUEL_MESH_TLS_CERTIFICATE) is "
                                         "not set"));
  auto pass_only = plain("127.0.0.1");
  pass_only.tls_key_passphrase = "x";
  CHECK_THAT(refusal(pass_only), Catch::Contains("QUEL_MESH_TLS_KEY_PASSPHRASE"));
}

TEST_CASE("mesh TLS files must exist, be readable and load", "[mesh][config]") {
  certs c;
  auto m = c.node("a");
  m.tls_ca = c("missing.crt");
  auto why = refusal(m);
  CHECK_THAT(why, Catch::Contains("mesh.tls_ca (QUEL_MESH_TLS_CA)"));
  CHECK_THAT(why, Catch::Contains("cannot be read: No such file"));

  m = c.node("a");
  m.tls_certificate = c.dir;
  CHECK_THAT(refusal(m), Catch::Contains("mesh.tls_certificate (QUEL_MESH_TLS_CERTIFICATE) "
                                         + c.dir + " is not a regular file"));

  // Unreadable for this user (root reads anything: then only the content
  // checks below apply).
  if (::geteuid() != 0) {
    m = c.node("a");
    REQUIRE(::chmod(m.tls_key.c_str(), 0) == 0);
    CHECK_THAT(refusal(m), Catch::Contains("mesh.tls_key (QUEL_MESH_TLS_KEY)"));
    ::chmod(m.tls_key.c_str(), 0600);
  }

  std::ofstream{c("garbage.crt")} << "not a certificate\n";
  m = c.node("a");
  m.tls_certificate = c("garbage.crt");
  CHECK_THAT(refusal(m), Catch::Contains("is not a PEM certificate chain"));
  m = c.node("a");
  m.tls_ca = c("garbage.crt");
  CHECK_THAT(refusal(m), Catch::Contains("mesh.tls_ca (QUEL_MESH_TLS_CA)"));

  m = c.node("a");
  m.tls_key = c("b.key");
  CHECK_THAT(refusal(m), Catch::Contains("mesh.tls_key (QUEL_MESH_TLS_KEY) does not belong"));
}

TEST_CASE("an encrypted mesh TLS key needs its passphrase", "[mesh][config]") {
  certs c;
  auto m = c.node("a");
  m.tls_key = c("a.enc.key");
  // Without a passphrase OpenSSL is not allowed to prompt: a clear refusal.
  CHECK_THAT(refusal(m), Catch::Contains("set QUEL_MESH_TLS_KEY_PASSPHRASE"));
  m.tls_key_passphrase = "wrong";
  CHECK_THAT(refusal(m), Catch::Contains("with QUEL_MESH_TLS_KEY_PASSPHRASE"));
  m.tls_key_passphrase = "s3cret";
  CHECK(refusal(m).empty());
}

TEST_CASE("a node certificate its own CA does not accept is refused at start",
          "[mesh][config]") {
  certs c;
  // Signed by another CA: every peer trusting "ca" would refuse it.
  auto why = refusal(c.node("rogue", "ca"));
  CHECK_THAT(why, Catch::Contains("is not accepted by mesh.tls_ca"));
  CHECK_THAT(why, Catch::Contains("unable to get local issuer certificate"));
  CHECK(refusal(c.node("rogue", "other")).empty());
  // Both ends of a mesh connection present their certificate: one usable
  // only as a server would be refused when this node connects.
  CHECK_THAT(refusal(c.node("server_only")), Catch::Contains("as a TLS client certificate"));
}
