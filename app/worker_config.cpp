#include "app/worker_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <sstream>
#include <string_view>

#include "actors/mesh_actor.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "app/mesh_config.hpp"
#include "common/config_values.hpp"
#include "common/embedded_files.hpp"
#include "common/ini_file.hpp"
#include "common/log_text.hpp"
#include "common/secret_text.hpp"
#include "common/uuid.hpp"

namespace quel {

namespace {

/// `value` when it is `a` or `b` (or `c`, when given); otherwise a
/// configuration error naming the key (`what`) and the choices.
std::string one_of(const std::string& value, const std::string& what, const char* a,
                   const char* b, const char* c = nullptr) {
  if (value == a || value == b || (c != nullptr && value == c))
    return value;
  std::string choices = c == nullptr ? std::string(a) + " or " + b
                                     : std::string(a) + ", " + b + " or " + c;
  throw config_error(what + " must be " + choices + ", not \"" + value + "\"");
}

// Contract variable -> key (CONTRACT.md section 7 and rule 4).
const std::map<std::string, std::string>& env_aliases() {
  static const std::map<std::string, std::string> aliases = {
    {"QUEL_REDIS_URL", "redis.url"},
    {"QUEL_DATABASE_URL", "database.url"},
    {"QUEL_STORAGE", "storage.backend"},
    {"QUEL_STORAGE_DIR", "storage.dir"},
    {"QUEL_STORAGE_BUCKET", "storage.bucket"},
    {"QUEL_SUPABASE_URL", "storage.supabase_url"},
    {"QUEL_GENERATOR", "generator.backend"},
    {"QUEL_GEMINI_BASE_URL", "generator.gemini_base_url"},
    {"QUEL_GEMINI_MODEL", "generator.gemini_model"},
    {"QUEL_OUTPUT_FORMAT", "generator.output_format"},
    {"QUEL_CREDITS_PER_IMAGE", "worker.credits_per_image"},
    {"QUEL_MAX_INFLIGHT_IMAGES", "worker.max_inflight_images"},
    {"QUEL_HTTP_ADDR", "http.addr"},
    {"QUEL_NODE_ID", "worker.node_id"},
    {"QUEL_LEASE_TTL", "worker.lease_ttl"},
    {"QUEL_MISSING_JOB_RECHECK_SECONDS", "worker.missing_job_recheck"},
    {"QUEL_LOG_FORMAT", "log.format"},
    // config/modules.ini advertises it under this shorter name.
    {"QUEL_MODULES_FILE", "worker.modules_file"},
  };
  return aliases;
}

std::string env_name_of(const std::string& key) {
  std::string out = "QUEL_";
  for (char c : key)
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// A configuration file is small text: a directory, a FIFO or a device (which
// could block start-up for good or feed it without end) is refused, and so is
// anything over 1 MiB. O_NONBLOCK keeps the open itself from waiting on a FIFO.
constexpr off_t max_config_file_bytes = 1 << 20;

std::string read_file(const std::string& what, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw config_error("cannot read " + what + " " + path + ": " + std::strerror(errno));
  struct stat st {};
  std::string text;
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (regular && st.st_size <= max_config_file_bytes) {
    text.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < text.size()) {
      auto n = ::read(fd, text.data() + done, text.size() - done);
      if (n <= 0)
        break;
      done += static_cast<size_t>(n);
    }
    text.resize(done);
  }
  ::close(fd);
  if (!regular)
    throw config_error(what + " " + path + " is not a regular file");
  if (st.st_size > max_config_file_bytes)
    throw config_error(what + " " + path + " is larger than 1 MiB");
  return text;
}

ini_file parse_ini(const std::string& path) {
  try {
    return ini_file::parse(read_file("configuration file", path));
  } catch (const std::invalid_argument& e) {
    throw config_error("configuration file " + path + ": " + e.what());
  }
}

std::string number_text(double v) {
  std::ostringstream out;
  out << std::setprecision(12) << v;
  return out.str();
}

// Collects values with their origin so errors say where a bad value came from.
class layered_values {
public:
  void set(const std::string& key, std::string value, std::string origin) {
    values_[key] = {std::move(value), std::move(origin)};
  }
  bool known(const std::string& key) const { return values_.count(key) > 0; }

  const std::string& str(const std::string& key) const { return at(key).first; }

  // Values must parse whole: no sign, spaces, exponent or trailing text
  // ("30s"), and a range that keeps every later computation (milliseconds,
  // SQL intervals) far from overflow.
  int64_t integer(const std::string& key, int64_t min, int64_t max) const {
    auto& [text, origin] = at(key);
    auto v = parse_whole_number(text, min, max);
    if (!v)
      throw config_error(key + " = \"" + text + "\" (" + origin
                         + ") is not a whole number in " + std::to_string(min)
                         + ".." + std::to_string(max));
    return *v;
  }

  /// Seconds, written as digits with an optional decimal fraction ("2.5").
  std::chrono::milliseconds seconds(const std::string& key, double min, double max) const {
    auto& [text, origin] = at(key);
    auto v = parse_seconds(text, min, max);
    if (!v)
      throw config_error(key + " = \"" + text + "\" (" + origin
                         + ") is not a number of seconds in " + number_text(min) + ".."
                         + number_text(max));
    return *v;
  }

  /// Exactly "true" or "false", as config/worker.ini writes them.
  bool boolean(const std::string& key) const {
    auto& [text, origin] = at(key);
    if (text != "true" && text != "false")
      throw config_error(key + " = \"" + clip_text(text, max_id_chars) + "\" (" + origin
                         + ") must be true or false");
    return text == "true";
  }

  double fraction(const std::string& key) const {
    auto& [text, origin] = at(key);
    auto v = parse_fraction(text);
    if (!v)
      throw config_error(key + " = \"" + text + "\" (" + origin
                         + ") is not a number in 0..1");
    return *v;
  }

  const std::pair<std::string, std::string>& at(const std::string& key) const {
    auto i = values_.find(key);
    if (i == values_.end())
      throw config_error("missing configuration key " + key);
    return i->second;
  }

  const std::map<std::string, std::pair<std::string, std::string>>& all() const {
    return values_;
  }

private:
  std::map<std::string, std::pair<std::string, std::string>> values_;
};

layered_values collect(const std::map<std::string, std::string>& options) {
  layered_values v;
  auto defaults = ini_file::parse(embedded::worker_ini());
  for (auto& [key, value] : defaults.entries())
    v.set(key, value, "default");
  std::string file;
  if (auto* env = std::getenv("QUEL_CONFIG"))
    file = env;
  if (auto i = options.find("config"); i != options.end())
    file = i->second;
  if (!file.empty()) {
    auto ini = parse_ini(file);
    for (auto& [key, value] : ini.entries()) {
      if (!v.known(key))
        throw config_error("unknown key " + key + " in " + file + " line "
                           + std::to_string(ini.line_of(key)));
      v.set(key, value, file);
    }
  }
  auto keys = v.all();
  for (auto& [key, unused] : keys)
    if (auto* env = std::getenv(env_name_of(key).c_str()))
      v.set(key, env, env_name_of(key));
  for (auto& [name, key] : env_aliases())
    if (auto* env = std::getenv(name.c_str()))
      v.set(key, env, name);
  for (auto& [key, value] : options) {
    if (key == "config")
      continue;
    // Short spellings the usage text and config/modules.ini advertise.
    auto k = key == "log-format" ? std::string{"log.format"}
             : key == "modules"  ? std::string{"worker.modules_file"}
                                 : key;
    for (auto& c : k)
      if (c == '-')
        c = '_';
    if (!v.known(k))
      throw config_error("unknown option --" + key);
    v.set(k, value, "--" + key);
  }
  return v;
}

// Connection settings are checked at start-up, so a bad one stops the
// worker naming its key instead of failing later inside an actor.
void check_redis_url(const std::string& url) {
  try {
    redis_endpoint::parse(url);
  } catch (const std::invalid_argument& e) {
    // The parser's message never echoes the URL (it may hold a password).
    throw config_error(std::string{"redis.url (QUEL_REDIS_URL): "} + e.what());
  }
}

void check_http_addr(const std::string& addr) {
  if (!valid_http_addr(addr))
    throw config_error("http.addr (QUEL_HTTP_ADDR) \"" + clip_text(addr, max_id_chars)
                       + "\" is not host:port with a port in 1..65535 (or off)");
}

std::vector<std::string> split_list(const std::string& text);

/// mesh.*: off while mesh.listen is empty. Plain mode stays on loopback
/// unless mesh.insecure says otherwise, TLS needs its three files
/// (check_mesh_security, docs/DISTRIBUTED.md).
mesh_settings load_mesh(const layered_values& v) {
  mesh_settings m;
  auto listen = v.str("mesh.listen");
  auto insecure = v.str("mesh.insecure");
  if (insecure != "true" && insecure != "false")
    throw config_error("mesh.insecure (QUEL_MESH_INSECURE) must be true or false, not \""
                       + clip_text(insecure, max_id_chars) + "\"");
  m.insecure = insecure == "true";
  m.heartbeat_interval = v.seconds("mesh.heartbeat_interval", 0.05, 60);
  m.connection_timeout = v.seconds("mesh.connection_timeout", 0.1, 600);
  m.grace = v.seconds("mesh.grace", 0, 60);
  m.retry_interval = v.seconds("mesh.retry_interval", 0.05, 60);
  if (m.connection_timeout <= m.heartbeat_interval)
    throw config_error("mesh.connection_timeout must be longer than mesh.heartbeat_interval");
  m.tls_certificate = v.str("mesh.tls_certificate");
  m.tls_key = v.str("mesh.tls_key");
  m.tls_ca = v.str("mesh.tls_ca");
  // A secret, so only from the environment (docs/SECURITY.md).
  if (auto* pass = std::getenv("QUEL_MESH_TLS_KEY_PASSPHRASE")) {
    m.tls_key_passphrase = pass;
    register_secret(pass);
  }
  for (auto& address : split_list(v.str("mesh.generators"))) {
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(address, host, port))
      throw config_error("mesh.generators (QUEL_MESH_GENERATORS): \""
                         + clip_text(address, max_id_chars)
                         + "\" is not host:port with a port in 1..65535");
    if (!loopback_host(host) && !m.insecure && !m.tls())
      throw config_error("mesh.generators (QUEL_MESH_GENERATORS): "
                         + clip_text(address, max_id_chars)
                         + " is not a loopback address: plain mesh connections are neither "
                           "encrypted nor authenticated; set mesh.tls_* (mutual TLS), or "
                           "mesh.insecure = true on a trusted network");
    m.generators.push_back(address);
  }
  auto fallback = v.str("mesh.generator_fallback");
  if (fallback != "local" && fallback != "wait")
    throw config_error("mesh.generator_fallback (QUEL_MESH_GENERATOR_FALLBACK) must be local "
                       "or wait, not \"" + clip_text(fallback, max_id_chars) + "\"");
  m.generator_fallback_local = fallback == "local";
  if (listen.empty())
    return m;
  if (!split_host_port(listen, m.host, m.port))
    throw config_error("mesh.listen (QUEL_MESH_LISTEN) \"" + clip_text(listen, max_id_chars)
                       + "\" is not host:port with a port in 1..65535");
  m.enabled = true;
  return m;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{text};
  while (std::getline(in, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos)
      out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

} // namespace

worker_config worker_config::load(const std::map<std::string, std::string>& options) {
  auto v = collect(options);
  worker_config c;
  for (auto& [key, value] : v.all())
    c.sources.push_back(config_value{key, value.first, value.second});
  c.redis_url = v.str("redis.url");
  c.database_url = v.str("database.url");
  // Known secrets are registered before anything can fail and be logged, so
  // the logger and error_message redact them whatever text echoes them.
  register_connection_secrets(c.redis_url);
  register_connection_secrets(c.database_url);
  for (const char* name : {"QUEL_SUPABASE_KEY", "QUEL_GEMINI_API_KEY", "QUEL_HTTP_ADMIN_TOKEN"})
    if (auto* key = std::getenv(name))
      register_secret(key);
  check_redis_url(c.redis_url);
  c.database_connections = static_cast<int>(v.integer("database.connections", 1, 64));
  c.credit_shards = static_cast<int>(v.integer("database.credit_shards", 1, 64));

  c.storage_backend = one_of(v.str("storage.backend"), "storage.backend (QUEL_STORAGE)",
                             "local", "supabase");
  c.storage_dir = v.str("storage.dir");
  c.storage_bucket = v.str("storage.bucket");
  c.storage_local_sync = v.boolean("storage.local_sync");
  c.supabase_url = v.str("storage.supabase_url");
  if (auto* key = std::getenv("QUEL_SUPABASE_KEY"))
    c.supabase_key = key;
  c.storage_threads = static_cast<int>(v.integer("storage.threads", 1, 256));
  c.storage_timeout = v.seconds("storage.timeout", 0.1, 3600);

  c.generator_backend = one_of(v.str("generator.backend"), "generator.backend (QUEL_GENERATOR)",
                               "local", "gemini", "noop");
  c.gemini_base_url = v.str("generator.gemini_base_url");
  c.gemini_model = v.str("generator.gemini_model");
  if (auto* key = std::getenv("QUEL_GEMINI_API_KEY"))
    c.gemini_api_key = key;
  c.generator_threads = static_cast<int>(v.integer("generator.threads", 1, 256));
  c.generator_concurrency = static_cast<int>(v.integer("generator.concurrency", 0, 100000));
  if (c.generator_concurrency == 0)
    c.generator_concurrency = c.generator_threads;
  c.generator_timeout = v.seconds("generator.timeout", 0.1, 3600);
  c.local_latency_ms = static_cast<int>(v.integer("generator.local_latency_ms", 0, 600000));
  c.max_requests_per_minute
    = static_cast<int>(v.integer("generator.max_requests_per_minute", 0, 60000));
  auto format = parse_output_format(v.str("generator.output_format"));
  if (!format)
    throw config_error("generator.output_format (QUEL_OUTPUT_FORMAT) must be webp, png or "
                       "jpeg, not \"" + v.str("generator.output_format") + "\"");

  c.http_addr = v.str("http.addr");
  check_http_addr(c.http_addr);
  // Like every secret, only from the environment (docs/SECURITY.md).
  if (auto* token = std::getenv("QUEL_HTTP_ADMIN_TOKEN"))
    c.http_admin_token = token;
  c.mesh = load_mesh(v);
  check_mesh_security(c.mesh);
  c.log_format = v.str("log.format");
  if (c.log_format != "human" && c.log_format != "json")
    throw config_error("log.format must be human or json, not \"" + c.log_format + "\"");
  c.log_level = v.str("log.level");

  if (!v.str("worker.credits_per_image").empty())
    c.credits_per_image = v.integer("worker.credits_per_image", 0, 1000000000);
  c.modules = split_list(v.str("worker.modules"));
  c.modules_file = v.str("worker.modules_file");
  c.max_inflight_images = static_cast<int>(v.integer("worker.max_inflight_images", 1, 1000000));
  c.max_inflight_bytes = v.integer("worker.max_inflight_bytes", int64_t{1} << 20, int64_t{1} << 40);
  c.reconcile_interval = v.seconds("worker.reconcile_interval", 0, 86400);
  c.reconcile_age = v.seconds("worker.reconcile_age", 0, 30 * 86400);
  c.health_stall_timeout = v.seconds("worker.health_stall_timeout", 0.1, 3600);

  auto& s = c.settings;
  s.node_id = v.str("worker.node_id");
  if (s.node_id.empty())
    s.node_id = new_node_id();
  else if (!valid_node_id(s.node_id))
    throw config_error("worker.node_id (QUEL_NODE_ID) \"" + clip_text(s.node_id, max_id_chars)
                       + "\" must be 1-64 characters of A-Za-z0-9._-");
  s.lease_ttl = v.seconds("worker.lease_ttl", 0.5, 86400);
  s.missing_job_recheck = v.seconds("worker.missing_job_recheck", 0, 3600);
  s.take_timeout = v.seconds("worker.take_timeout", 0.05, 60);
  s.shutdown_deadline = v.seconds("worker.shutdown_deadline", 0, 3600);
  s.housekeeping_interval = v.seconds("worker.housekeeping_interval", 0.05, 3600);
  s.max_jobs = static_cast<int>(v.integer("worker.max_jobs", 1, 100000));
  s.max_attempts = static_cast<int>(v.integer("worker.max_attempts", 1, 1000));
  s.format = *format;
  auto base = std::chrono::milliseconds(v.integer("retry.base_ms", 1, 3600000));
  auto cap = std::chrono::milliseconds(v.integer("retry.cap_ms", 1, 3600000));
  if (base > cap)
    throw config_error("retry.base_ms (" + std::to_string(base.count())
                       + ") must not exceed retry.cap_ms (" + std::to_string(cap.count()) + ")");
  s.image_retry = backoff_policy{base, cap,
                                 static_cast<int>(v.integer("retry.image_attempts", 1, 100))};
  s.stage_retry = backoff_policy{base, cap,
                                 static_cast<int>(v.integer("retry.stage_attempts", 1, 100))};
  s.limits.max_stages = static_cast<int>(v.integer("limits.max_stages", 1, 10000));
  s.limits.max_quantity = static_cast<int>(v.integer("limits.max_quantity", 1, 10000));
  s.limits.max_inputs = static_cast<int>(v.integer("limits.max_inputs", 0, 10000));
  s.limits.max_prompt_chars = static_cast<int>(v.integer("limits.max_prompt_chars", 1, 100000000));
  s.limits.max_input_bytes = v.integer("limits.max_input_bytes", 1, int64_t{1} << 40);
  s.limits.max_job_input_bytes = v.integer("limits.max_job_input_bytes", 2, int64_t{1} << 30);
  s.limits.max_image_pixels = v.integer("limits.max_image_pixels", 1, int64_t{1} << 31);

  auto& f = c.faults;
  f.crash_points = split_list(v.str("faults.crash_points"));
  f.crash_probability = v.fraction("faults.crash_probability");
  auto adapter_faults = [&v](const std::string& name) {
    return fault::adapter_faults{
      v.fraction("faults." + name + "_failure_rate"),
      std::chrono::milliseconds(v.integer("faults." + name + "_latency_ms", 0, 600000))};
  };
  f.redis = adapter_faults("redis");
  f.database = adapter_faults("database");
  f.storage = adapter_faults("storage");
  f.generator = adapter_faults("generator");
  for (auto& p : f.crash_points)
    if (p != "all"
        && std::find(fault::crash_point_names().begin(), fault::crash_point_names().end(), p)
             == fault::crash_point_names().end())
      throw config_error("faults.crash_points: unknown crash point \"" + p + "\"");

  std::string modules_text = c.modules_file.empty() ? std::string{embedded::modules_ini()}
                                                    : read_file("modules file", c.modules_file);
  try {
    c.known_modules = module_catalog::from_ini(modules_text);
    c.catalog = c.known_modules;
    if (!c.modules.empty())
      c.catalog.keep_only(c.modules);
  } catch (const std::exception& e) {
    throw config_error(std::string{"modules: "} + e.what());
  }
  if (c.credits_per_image)
    c.catalog.set_cost_for_all(*c.credits_per_image);
  // Each queue's taker waits for ids with one job slot of its own.
  if (s.max_jobs < static_cast<int>(c.catalog.all().size()))
    throw config_error("worker.max_jobs (" + std::to_string(s.max_jobs)
                       + ") must be at least the number of modules served ("
                       + std::to_string(c.catalog.all().size()) + ")");
  return c;
}

std::vector<std::pair<std::string, std::string>> worker_config::describe() const {
  std::string generator_nodes;
  for (auto& address : mesh.generators)
    generator_nodes += (generator_nodes.empty() ? "" : ",") + address;
  return {
    {"node", settings.node_id},
    {"redis", mask_connection_string(redis_url)},
    {"database", mask_connection_string(database_url)},
    {"storage", storage_backend},
    {"generator", generator_backend},
    {"output_format", extension_of(settings.format)},
    {"http", http_addr},
    {"mesh", !mesh.enabled ? std::string{"off"}
             : mesh.address() + (mesh.tls() ? " (mutual TLS)" : " (plain)")},
    {"generator_nodes", generator_nodes.empty() ? std::string{"none"} : generator_nodes},
  };
}

} // namespace quel
