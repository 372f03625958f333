// Configuration is checked whole at start-up: every number and duration in
// its range and written whole, ports in 1..65535, a config path that is a
// small regular file. A bad value stops the worker before it touches any
// server, with exit code 2 and a message naming the key (docs/SECURITY.md).
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "tests/support/worker_harness.hpp"

using namespace quel::test;

namespace {

/// `quel-worker status` with `env` and `args`, against servers that do not
/// exist: only the configuration check can end it with exit code 2.
run_result status_with(const env_map& env, const std::vector<std::string>& args = {}) {
  env_map full;
  if (const char* path = std::getenv("PATH"))
    full["PATH"] = path;
  full["QUEL_REDIS_URL"] = "redis://127.0.0.1:9/0";
  full["QUEL_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1";
  full["QUEL_HTTP_ADDR"] = "off";
  for (auto& [k, v] : env)
    full[k] = v;
  std::vector<std::string> argv{worker_binary(), "status"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, full, std::chrono::seconds{20});
}

void check_refused(const run_result& r, const std::string& names) {
  INFO("stderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("configuration error") != std::string::npos);
  CHECK(r.err.find(names) != std::string::npos);
}

} // namespace

TEST_CASE("numbers and durations must be whole and in range", "[e2e][config]") {
  struct row {
    const char* variable;
    const char* value;
    const char* key;
  };
  const row rows[] = {
    {"QUEL_LEASE_TTL", "30s", "worker.lease_ttl"},          // trailing garbage
    {"QUEL_LEASE_TTL", " 30", "worker.lease_ttl"},          // leading space
    {"QUEL_LEASE_TTL", "1e300", "worker.lease_ttl"},        // overflows int64 ms
    {"QUEL_LEASE_TTL", "9999999999", "worker.lease_ttl"},   // an SQL range error later
    {"QUEL_LEASE_TTL", "inf", "worker.lease_ttl"},
    {"QUEL_LEASE_TTL", "0x10", "worker.lease_ttl"},
    {"QUEL_LEASE_TTL", "0.1", "worker.lease_ttl"},          // below the minimum
    {"QUEL_WORKER_TAKE_TIMEOUT", "3600", "worker.take_timeout"},
    {"QUEL_WORKER_SHUTDOWN_DEADLINE", "-1", "worker.shutdown_deadline"},
    {"QUEL_STORAGE_TIMEOUT", "1e9", "storage.timeout"},
    {"QUEL_STORAGE_LOCAL_SYNC", "yes", "storage.local_sync"},
    {"QUEL_STORAGE_LOCAL_SYNC", "TRUE", "storage.local_sync"},
    {"QUEL_WORKER_MAX_JOBS", "+16", "worker.max_jobs"},
    {"QUEL_WORKER_MAX_JOBS", "16 ", "worker.max_jobs"},
    {"QUEL_MAX_INFLIGHT_IMAGES", "99999999999999999999", "worker.max_inflight_images"},
    {"QUEL_RETRY_BASE_MS", "5000", "retry.base_ms"},        // above retry.cap_ms
    {"QUEL_HTTP_ADDR", "127.0.0.1:70000", "http.addr"},
    {"QUEL_HTTP_ADDR", "127.0.0.1:0", "http.addr"},
    {"QUEL_HTTP_ADDR", "127.0.0.1:80x", "http.addr"},
    {"QUEL_REDIS_URL", "redis://127.0.0.1:65536/0", "redis.url"},
    {"QUEL_REDIS_URL", "http://127.0.0.1:6379", "redis.url"},
    {"QUEL_FAULTS_CRASH_PROBABILITY", "1e-1", "faults.crash_probability"},
    {"QUEL_FAULTS_REDIS_FAILURE_RATE", " 0.5", "faults.redis_failure_rate"},
    // The mesh: host:port, and plain mode only on loopback unless insecure.
    {"QUEL_MESH_LISTEN", "127.0.0.1", "mesh.listen"},
    {"QUEL_MESH_LISTEN", "127.0.0.1:0", "mesh.listen"},
    {"QUEL_MESH_LISTEN", "10.1.2.3:7400", "mesh.insecure"},
    {"QUEL_MESH_INSECURE", "yes", "mesh.insecure"},
    {"QUEL_MESH_GRACE", "61", "mesh.grace"},
    {"QUEL_MESH_CONNECTION_TIMEOUT", "0.2", "mesh.connection_timeout"},
    // Generator nodes: host:port each, loopback unless insecure; two fallbacks.
    {"QUEL_MESH_GENERATORS", "127.0.0.1:7500,127.0.0.1", "mesh.generators"},
    {"QUEL_MESH_GENERATORS", "10.1.2.3:7500", "mesh.generators"},
    {"QUEL_MESH_GENERATOR_FALLBACK", "remote", "mesh.generator_fallback"},
    {"QUEL_GENERATOR_CONCURRENCY", "-1", "generator.concurrency"},
    // Mutual TLS: the three files together (the first missing one is named).
    {"QUEL_MESH_TLS_CA", "/nonexistent/ca.crt", "mesh.tls_certificate"},
    {"QUEL_MESH_TLS_KEY_PASSPHRASE", "Passphrase-Alone-9", "QUEL_MESH_TLS_KEY_PASSPHRASE"},
  };
  for (auto& r : rows) {
    INFO(r.variable << "=" << r.value);
    env_map env{{r.variable, r.value}};
    if (std::string(r.variable) == "QUEL_RETRY_BASE_MS")
      env["QUEL_RETRY_CAP_MS"] = "1000";
    check_refused(status_with(env), r.key);
  }
  // The same check applies to command-line options.
  check_refused(status_with({}, {"--worker.lease_ttl=30s"}), "worker.lease_ttl");
}

TEST_CASE("a configuration path must be a small regular file", "[e2e][config]") {
  auto dir = make_temp_dir("quel-config");
  check_refused(status_with({}, {"--config=" + dir}), "not a regular file");

  auto fifo = dir + "/fifo.ini";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // Opening a FIFO for reading would wait for a writer for good.
  check_refused(status_with({{"QUEL_CONFIG", fifo}}), "not a regular file");

  auto big = dir + "/big.ini";
  {
    std::ofstream out(big);
    out << "[worker]\n";
    for (int i = 0; i < 40000; ++i)
      out << "; padding padding padding padding\n";
  }
  check_refused(status_with({}, {"--config=" + big}), "larger than 1 MiB");

  auto malformed = dir + "/malformed.ini";
  std::ofstream(malformed) << "[worker]\nlease_ttl\n";
  check_refused(status_with({}, {"--config=" + malformed}), "line 2");

  auto bad_value = dir + "/bad-value.ini";
  std::ofstream(bad_value) << "[worker]\nlease_ttl = 30 seconds\n";
  check_refused(status_with({}, {"--config=" + bad_value}), "worker.lease_ttl");

  auto missing = dir + "/missing.ini";
  check_refused(status_with({}, {"--config=" + missing}), missing);
}

TEST_CASE("documented forms stay accepted", "[e2e][config]") {
  // Decimal seconds (rule 27) and the limits of each range pass the check:
  // status then fails only on the missing servers (exit 1, not 2).
  auto r = status_with({{"QUEL_LEASE_TTL", "2.5"},
                        {"QUEL_FAULTS_CRASH_PROBABILITY", "0.300000"},
                        {"QUEL_WORKER_TAKE_TIMEOUT", "60"},
                        {"QUEL_HTTP_ADDR", "127.0.0.1:65535"},
                        {"QUEL_WORKER_RECONCILE_INTERVAL", "0"}});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("configuration error") == std::string::npos);
}
