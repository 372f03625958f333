#include "tests/integration/worker_http_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <catch2/catch.hpp>

namespace quel::test {

namespace {

nlohmann::json parse_ok(const plain_reply& r, const std::string& what) {
  INFO(what << " answered " << r.status << ": " << r.body.substr(0, 500));
  REQUIRE(r.status == 200);
  return nlohmann::json::parse(r.body);
}

// Percent-encodes what a request line cannot carry (the worker encodes every
// segment itself; the tests only need spaces and a few marks).
std::string encode_path(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == ' ' || c == '%' || c == '?' || c == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

} // namespace

plain_reply plain_http(int port, const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::string& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    FAIL("cannot connect to 127.0.0.1:" << port);
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Connection: close\r\nContent-Length: " + std::to_string(body.size())
                    + "\r\n";
  for (auto& [name, value] : headers)
    req += name + ": " + value + "\r\n";
  req += "\r\n" + body;
  size_t sent = 0;
  while (sent < req.size()) {
    auto n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      ::close(fd);
      FAIL("send to 127.0.0.1:" << port << " failed");
    }
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  plain_reply r;
  auto head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  r.status = std::stoi(raw.substr(raw.find(' ') + 1, 3));
  r.body = raw.substr(head_end + 4);
  return r;
}

http_backends::http_backends(standin_options options)
  : options_(options),
    supabase_("supabase_standin.py", {"--key", options.storage_key, "--buckets", "images"}),
    gemini_("gemini_standin.py", {"--key", gemini_test_key, "--latency-ms",
                                  std::to_string(options.gemini_latency_ms)}) {
}

void http_backends::upload(const std::string& key, const std::string& bytes,
                           const std::string& content_type) {
  std::vector<std::pair<std::string, std::string>> headers{{"apikey", options_.storage_key},
                                                           {"Content-Type", content_type},
                                                           {"x-upsert", "true"}};
  if (options_.storage_key.rfind("sb_secret_", 0) != 0)
    headers.emplace_back("Authorization", "Bearer " + options_.storage_key);
  auto r = plain_http(supabase_.port(), "POST", "/storage/v1/object/images/" + encode_path(key),
                      headers, bytes);
  INFO("upload of " << key << ": " << r.body);
  REQUIRE(r.status == 200);
}

int64_t http_backends::add_input(const std::string& key, const std::string& bytes,
                                 const std::optional<std::string>& org_id) {
  std::string type = bytes.rfind("\x89PNG", 0) == 0 ? "image/png" : "image/jpeg";
  upload(key, bytes, type);
  h_.note_input_row();
  return h_.db().create_attach(key, std::nullopt, org_id);
}

plain_reply http_backends::download(const std::string& key) {
  std::vector<std::pair<std::string, std::string>> headers{{"apikey", options_.storage_key}};
  if (options_.storage_key.rfind("sb_secret_", 0) != 0)
    headers.emplace_back("Authorization", "Bearer " + options_.storage_key);
  return plain_http(supabase_.port(), "GET", "/storage/v1/object/images/" + encode_path(key),
                    headers);
}

void http_backends::script_gemini(const nlohmann::json& rules) {
  parse_ok(plain_http(gemini_.port(), "POST", "/__control", {},
                      nlohmann::json{{"script", rules}}.dump()),
           "gemini /__control");
}

void http_backends::script_supabase(const nlohmann::json& rules) {
  parse_ok(plain_http(supabase_.port(), "POST", "/__control", {},
                      nlohmann::json{{"script", rules}}.dump()),
           "supabase /__control");
}

nlohmann::json http_backends::gemini_stats() {
  return parse_ok(plain_http(gemini_.port(), "GET", "/__stats"), "gemini /__stats");
}

nlohmann::json http_backends::supabase_stats() {
  return parse_ok(plain_http(supabase_.port(), "GET", "/__stats"), "supabase /__stats");
}

nlohmann::json http_backends::gemini_last() {
  return parse_ok(plain_http(gemini_.port(), "GET", "/__last"), "gemini /__last");
}

nlohmann::json http_backends::supabase_last() {
  return parse_ok(plain_http(supabase_.port(), "GET", "/__last"), "supabase /__last");
}

nlohmann::json http_backends::objects() {
  return parse_ok(plain_http(supabase_.port(), "GET", "/__objects"), "supabase /__objects");
}

std::vector<std::string> http_backends::output_keys() {
  std::vector<std::string> keys;
  auto all = objects();
  for (auto& [k, v] : all.items()) {
    (void)v;
    if (k.rfind("images/generated/", 0) == 0)
      keys.push_back(k.substr(7));
  }
  return keys;
}

int64_t http_backends::gemini_calls() {
  int64_t n = 0;
  auto stats = gemini_stats();
  for (auto& [path, count] : stats["per_path"].items())
    if (path.find(":generateContent") != std::string::npos)
      n += count.get<int64_t>();
  return n;
}

int64_t http_backends::storage_calls(const std::string& method, const std::string& prefix) {
  int64_t n = 0;
  auto route = method + " /storage/v1/object/images/" + prefix;
  auto stats = supabase_stats();
  for (auto& [r, count] : stats["per_route"].items())
    if (r.rfind(route, 0) == 0)
      n += count.get<int64_t>();
  return n;
}

env_map http_backends::env(const env_map& extra) const {
  env_map e{{"QUEL_STORAGE", "supabase"},
            {"QUEL_SUPABASE_URL", supabase_.base_url()},
            {"QUEL_SUPABASE_KEY", options_.storage_key},
            {"QUEL_STORAGE_BUCKET", "images"},
            {"QUEL_GENERATOR", "gemini"},
            {"QUEL_GEMINI_BASE_URL", gemini_.base_url()},
            {"QUEL_GEMINI_API_KEY", gemini_test_key},
            {"QUEL_RETRY_BASE_MS", "50"},
            {"QUEL_RETRY_CAP_MS", "2000"},
            {"QUEL_STORAGE_TIMEOUT", "10"},
            {"QUEL_GENERATOR_TIMEOUT", "20"}};
  for (auto& [k, v] : extra)
    e[k] = v;
  return e;
}

run_result http_backends::drain(const env_map& extra) {
  return h_.drain(env(extra));
}

int64_t as_int(const nlohmann::json& v) {
  if (v.is_number())
    return v.get<int64_t>();
  if (v.is_string())
    return std::stoll(v.get<std::string>());
  FAIL("not a number: " << v.dump());
  return 0;
}

std::string sha256_hex(const std::string& bytes) {
  char tmpl[] = "/tmp/quel-http-sha-XXXXXX";
  int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  env_map env{{"PATH", std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin"}};
  auto r = run_process({"/usr/bin/sha256sum", tmpl}, env, std::chrono::seconds{10});
  ::unlink(tmpl);
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, 64);
}

namespace {

std::vector<std::string> worker_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{worker_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

} // namespace

background_worker::background_worker(const std::vector<std::string>& args,
                                     const env_map& env)
  : dir_(make_temp_dir("quel-http-worker-")),
    process_(std::make_unique<child_process>(worker_argv(args), env, dir_ + "/worker.log")) {
}

background_worker::~background_worker() {
  if (process_->running())
    stop(std::chrono::seconds{10});
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

pid_t background_worker::pid() const {
  return process_->pid();
}

int background_worker::thread_count() const {
  return test::thread_count(std::to_string(pid()));
}

std::map<std::string, int> background_worker::thread_names() const {
  return test::thread_names(std::to_string(pid()));
}

int background_worker::stop(std::chrono::seconds deadline) {
  return shell_status(process_->terminate(deadline));
}

std::string background_worker::log() const {
  return process_->log();
}

} // namespace quel::test

namespace quel::test {

void check_http_job(http_backends& fx, const http_job_expect& e) {
  auto& db = fx.h().db();
  auto job = db.job(e.job_id);
  INFO("job " << e.job_id << ": " << job.dump());
  REQUIRE(job.is_object());
  bool completed = e.completed == e.total;
  CHECK(job["job_status"] == (completed ? "completed" : "failed"));
  CHECK(as_int(job["total_images"]) == e.total);
  CHECK(as_int(job["completed_images"]) == e.completed);
  CHECK(as_int(job["failed_images"]) == e.total - e.completed);
  CHECK_FALSE(job["completed_at"].is_null());
  if (completed) {
    CHECK(job["error_message"].is_null());
  } else {
    REQUIRE(job["error_message"].is_string());
    for (auto& needle : e.error_needles)
      CHECK(contains_nocase(job["error_message"].get<std::string>(), needle));
  }

  // Charged exactly once per image made, never for a failed one.
  std::vector<int64_t> made;
  for (auto& id : job["generated_attach_ids"])
    made.push_back(as_int(id));
  CHECK(made.size() == static_cast<size_t>(e.completed));
  CHECK(db.org_credit(e.org_id) == e.balance_before - e.completed);
  auto log = db.credit_log(e.org_id);
  CHECK(log.size() == static_cast<size_t>(e.completed));
  for (auto& row : log) {
    CHECK(as_int(row["amount"]) == -1);
    CHECK(row["reason"] == "image_generation");
    CHECK(row["job_id"] == e.job_id);
    CHECK(std::find(made.begin(), made.end(), as_int(row["attach_id"])) != made.end());
  }

  // One stored WebP object per image made, matching its attach row.
  auto objects = fx.objects();
  int stored = 0;
  for (auto& [key, obj] : objects.items())
    if (key.find("/" + e.job_id + "/") != std::string::npos) {
      ++stored;
      CHECK(obj["content_type"] == "image/webp");
    }
  CHECK(stored == e.completed);
  for (auto id : made) {
    auto attach = db.attach(id);
    INFO("attach " << attach.dump());
    auto key = "images/" + attach["attach_file_path"].get<std::string>();
    REQUIRE(objects.contains(key));
    CHECK(attach["attach_file_type"] == "image/webp");
    CHECK(as_int(attach["attach_file_size"]) == as_int(objects[key]["size"]));
  }
}

std::pair<std::string, std::string> make_http_job(http_backends& fx, const std::string& prompt,
                                                  int quantity,
                                                  const std::vector<int64_t>& inputs,
                                                  int64_t credits, bool enqueue) {
  auto& db = fx.h().db();
  auto org = db.create_org(credits, "org " + prompt);
  auto production = db.create_production(org);
  std::vector<std::string> entries;
  for (auto id : inputs)
    entries.push_back(attach_entry(std::to_string(id), entries.empty() ? "model" : "top"));
  auto job = db.create_job(production, org, "pipeline_stage",
                           pipeline_json({stage_json(0, prompt, quantity, entries)}));
  if (enqueue)
    fx.h().enqueue(job);
  return {job, org};
}

int64_t fired(const nlohmann::json& stats, const std::string& match) {
  int64_t n = 0;
  for (auto& rule : stats["rules"])
    if (rule["match"] == match)
      n += rule["fired"].get<int64_t>();
  return n;
}

} // namespace quel::test
