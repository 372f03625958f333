#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/mesh_settings.hpp"
#include "actors/worker_context.hpp"
#include "common/fault_injection.hpp"

namespace quel {

/// Thrown for a configuration that cannot run (bad value, unknown key);
/// the message names the key and where it came from.
class config_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// One key's effective value and where it came from: "default", the path
/// of the configuration file, the environment variable's name, or the
/// option ("--section.key"). Values are as given (not masked).
struct config_value {
  std::string key;
  std::string value;
  std::string origin;
};

/// Every setting of the worker. Sources, later ones winning: the defaults
/// compiled from config/worker.ini, a file given with --config=PATH (or
/// QUEL_CONFIG), environment variables, then --section.key=value options.
/// Each key `section.key` has the variable QUEL_SECTION_KEY; the contract's
/// variables (CONTRACT.md section 7) are aliases of theirs. Secrets
/// (QUEL_SUPABASE_KEY, QUEL_GEMINI_API_KEY) come only from the environment.
struct worker_config {
  std::string redis_url;
  std::string database_url;
  int database_connections = 4;
  int credit_shards = 2;

  std::string storage_backend;   // local | supabase
  std::string storage_dir;
  std::string storage_bucket;
  /// Local backend: a put returns once the object is on disk
  /// (storage.local_sync); false keeps it in the page cache only.
  bool storage_local_sync = true;
  std::string supabase_url;
  std::string supabase_key;      // secret
  int storage_threads = 4;
  std::chrono::milliseconds storage_timeout{60000};

  std::string generator_backend; // local | gemini | noop (benchmarks)
  std::string gemini_base_url;
  std::string gemini_model;
  std::string gemini_api_key;    // secret
  int generator_threads = 2;
  /// Calls `serve-generator` runs at once (generator.concurrency; 0 in the
  /// file: generator.threads), announced to workers as its capacity.
  int generator_concurrency = 2;
  std::chrono::milliseconds generator_timeout{120000};
  int local_latency_ms = 0;
  int max_requests_per_minute = 0;  // fleet-wide model rate limit; 0: off

  std::string http_addr;         // host:port or "off"
  std::string http_admin_token;  // secret: enables the dashboard's actions
  std::string log_format;        // human | json
  std::string log_level;

  std::optional<int64_t> credits_per_image;
  std::vector<std::string> modules;   // empty: all
  std::string modules_file;
  int max_inflight_images = 64;
  /// Byte budget of image work in flight (worker.max_inflight_bytes):
  /// 1.5 GiB lets all 64 default slots run with the 16 MiB reply cap and up
  /// to 8 MiB of inputs each; larger inputs run fewer at a time.
  int64_t max_inflight_bytes = int64_t{1536} << 20;
  std::chrono::milliseconds reconcile_interval{30000};  // 0: off
  std::chrono::milliseconds reconcile_age{120000};
  /// /healthz fails when the scheduler's heartbeat is older than this.
  std::chrono::milliseconds health_stall_timeout{10000};

  mesh_settings mesh;            // worker mesh; off unless mesh.listen is set
  fault::settings faults;        // chaos drills; all off by default
  worker_settings settings;      // what the actors act on
  module_catalog catalog;         // the modules served (worker.modules)
  /// Every module of the modules file, served or not: where ids of jobs of
  /// other modules belong (the reconciler, `enqueue`).
  module_catalog known_modules;
  /// Every key of config/worker.ini with its effective value and origin
  /// (`quel-worker config`), in key order.
  std::vector<config_value> sources;

  /// Loads and checks everything; `options` are the --section.key=value
  /// command-line options (without the leading dashes).
  static worker_config load(const std::map<std::string, std::string>& options);

  /// Keys and values as the worker sees them, secrets masked
  /// (mask_connection_string) for logs.
  std::vector<std::pair<std::string, std::string>> describe() const;
};

} // namespace quel
