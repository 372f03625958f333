// Secrets in every form never leave the worker: a whole job set runs with a
// password in the database URL, Redis behind requirepass, Gemini and
// Supabase keys that the stand-ins echo back in their error bodies, and
// everything the worker produced (logs in both formats, job rows'
// error_message, `status` output, /metrics) is searched for them
// (docs/SECURITY.md, issue 8).
#include <chrono>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;
using nlohmann::json;

namespace {

// Every password holds "Pa55" and nothing else the worker writes does, so a
// search for it also catches a password shown in part.
const std::string uri_password = "db-uri-Pa55-7f3c";
const std::string keyword_password = "db kw Pa55 'quoted' 9d1e";
const std::string query_password = "db-qs-Pa55-4b8a";
const std::string redis_password = "redis-Pa55-2c6d";
const std::string wrong_redis_password = "redis-wrong-Pa55-0e9a";
// A key that is nowhere configured, only echoed in a `?key=` URL.
const std::string unregistered_key = "AIzaUnregisteredEchoedKey42";

/// Parts of the test database URL (postgresql://USER@HOST:PORT/DB).
struct pg_parts {
  std::string user, host, port, db;
};

pg_parts parts_of(const std::string& url) {
  static const std::regex form{R"(^postgres(?:ql)?://([^@/:]+)@([^:/]+):(\d+)/([^?]+))"};
  std::smatch m;
  REQUIRE(std::regex_search(url, m, form));
  return {m[1], m[2], m[3], m[4]};
}

std::string uri_with_password(const pg_parts& p, const std::string& port) {
  return "postgresql://" + p.user + ":" + uri_password + "@" + p.host + ":" + port + "/" + p.db;
}

std::string keyword_form(const pg_parts& p) {
  // libpq quoting: the value in single quotes, a quote escaped as \'.
  std::string quoted;
  for (char c : keyword_password) {
    if (c == '\'' || c == '\\')
      quoted += '\\';
    quoted += c;
  }
  return "host=" + p.host + " port=" + p.port + " user=" + p.user + " dbname=" + p.db
         + " password='" + quoted + "'";
}

std::string query_form(const pg_parts& p) {
  return "postgresql://" + p.host + ":" + p.port + "/" + p.db + "?user=" + p.user
         + "&password=" + query_password + "&application_name=quel-secrets";
}

/// Fails the test naming `where` when `text` shows any secret.
void check_no_secret(const std::string& where, const std::string& text) {
  const std::vector<std::string> secrets = {
    uri_password, keyword_password, query_password, redis_password, wrong_redis_password,
    "Pa55", secret_storage_key, "worker_http_test_4f2a", gemini_test_key,
    unregistered_key, "AIzaUnregistered"};
  for (auto& s : secrets) {
    INFO(where << " shows \"" << s << "\":\n" << text.substr(0, 6000));
    CHECK(text.find(s) == std::string::npos);
  }
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::seconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return pred();
}

} // namespace

TEST_CASE("no secret in any form reaches logs or error_message or status or /metrics",
          "[e2e][secrets][http]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto& db = fx.h().db();
  auto pg = parts_of(db.url());
  redis_server_process redis_server({"--requirepass", redis_password});
  const auto redis_url = "redis://:" + redis_password + "@127.0.0.1:"
                         + std::to_string(redis_server.port()) + "/0";
  test_redis queue(redis_url);

  auto org = db.create_org(100);
  auto input = fx.add_input("inputs/secrets/model.png", sample_image("png", 3), org);
  const auto ok_job = make_http_job(fx, "secrets: a job that succeeds", 1, {input}, 10, false)
                        .first;
  const auto gemini_job = make_http_job(fx, "secrets: gemini echoes the key", 1, {input}, 10,
                                        false).first;
  const auto storage_job = make_http_job(fx, "secrets: storage echoes the key", 1, {input}, 10,
                                         false).first;
  // A customer's attach type with a line break, an escape sequence and a key.
  auto production = db.create_production(org);
  std::string hostile_type = "model\n2026-01-01T00:00:00.000Z info forged\x1b[2K " + gemini_test_key;
  auto escaped_type = json(hostile_type).dump();  // JSON text, quotes included
  escaped_type = escaped_type.substr(1, escaped_type.size() - 2);
  auto hostile_job = db.create_job(
    production, org, "pipeline_stage",
    pipeline_json({stage_json(0, "secrets: hostile type", 1,
                              {attach_entry(std::to_string(input), escaped_type)})}));

  fx.script_gemini(json::array(
    {{{"match", "gemini echoes the key"}, {"respond", "error"}, {"status", 400},
      {"status_text", "INVALID_ARGUMENT"},
      {"message", "API key not valid: " + gemini_test_key
                    + ". See https://generativelanguage.googleapis.com/v1beta/models?key="
                    + unregistered_key + " (header x-goog-api-key: " + gemini_test_key + ")"}}}));
  fx.script_supabase(json::array(
    {{{"match", "generated/" + storage_job}, {"method", "POST"}, {"respond", "error"},
      {"status", 403},
      {"message", "Invalid key " + secret_storage_key + " in Authorization: Bearer "
                    + secret_storage_key}}}));

  for (auto& id : {ok_job, gemini_job, storage_job, hostile_job})
    queue.lpush("jobs:queue", id);

  const int http_port = free_tcp_port();
  auto env = fx.env({{"QUEL_REDIS_URL", redis_url},
                     {"QUEL_DATABASE_URL", uri_with_password(pg, pg.port)},
                     {"QUEL_HTTP_ADDR", "127.0.0.1:" + std::to_string(http_port)}});
  background_worker worker({"run"}, env);
  auto finished = [&](const std::string& id) {
    auto s = db.job(id)["job_status"];
    return s == "completed" || s == "failed";
  };
  INFO("worker log:\n" << worker.log().substr(0, 6000));
  REQUIRE(wait_until([&] {
    return finished(ok_job) && finished(gemini_job) && finished(storage_job)
           && finished(hostile_job);
  }, std::chrono::seconds{90}));
  auto metrics = plain_http(http_port, "GET", "/metrics");
  CHECK(metrics.status == 200);
  auto status_run = fx.h().run_worker({"status"}, env);
  CHECK(status_run.exit_code == 0);
  CHECK(worker.stop() == 0);
  auto log = worker.log();

  // The echoes really happened: the keys reached the stand-ins and the
  // reasons were recorded, with the secrets masked.
  CHECK(db.job(ok_job)["job_status"] == "completed");
  auto gemini_error = db.job(gemini_job)["error_message"];
  auto storage_error = db.job(storage_job)["error_message"];
  REQUIRE(gemini_error.is_string());
  REQUIRE(storage_error.is_string());
  CHECK(gemini_error.get<std::string>().find("API key not valid: ***") != std::string::npos);
  CHECK(gemini_error.get<std::string>().find("?key=***") != std::string::npos);
  CHECK(storage_error.get<std::string>().find("Invalid key ***") != std::string::npos);

  check_no_secret("the worker's log", log);
  check_no_secret("/metrics", metrics.body);
  check_no_secret("status", status_run.out + status_run.err);
  // (The hostile job's own input holds a key on purpose: only what the
  // worker wrote is searched.)
  for (auto& id : {ok_job, gemini_job, storage_job, hostile_job})
    check_no_secret("error_message of " + id, db.job(id)["error_message"].dump());
  // The hostile type forged no line and drove no terminal.
  CHECK(log.find('\x1b') == std::string::npos);
  CHECK(log.find("\n2026-01-01T00:00:00.000Z info forged") == std::string::npos);
  // The configuration print masks the connection strings.
  CHECK(log.find("redis://:***@127.0.0.1") != std::string::npos);

  // The other connection-string forms (a whole `run --drain`, which prints
  // the configuration), and failures whose messages come from libpq and
  // Redis (`status`), in both log formats.
  struct run_case {
    std::string what;
    env_map env;
    bool succeeds;
  };
  const std::string closed_port = std::to_string(free_tcp_port());
  const std::vector<run_case> cases = {
    {"keyword form", {{"QUEL_DATABASE_URL", keyword_form(pg)}}, true},
    {"?password= form", {{"QUEL_DATABASE_URL", query_form(pg)}}, true},
    {"database unreachable", {{"QUEL_DATABASE_URL", uri_with_password(pg, closed_port)}}, false},
    {"keyword form, unterminated quote",
     {{"QUEL_DATABASE_URL", "host=" + pg.host + " password='" + query_password}}, false},
    {"wrong Redis password",
     {{"QUEL_REDIS_URL", "redis://:" + wrong_redis_password + "@127.0.0.1:"
                           + std::to_string(redis_server.port()) + "/0"}},
     false},
  };
  for (auto& c : cases)
    for (const char* format : {"human", "json"}) {
      auto case_env = env;
      case_env["QUEL_HTTP_ADDR"] = "off";
      case_env["QUEL_LOG_FORMAT"] = format;
      for (auto& [k, v] : c.env)
        case_env[k] = v;
      auto args = c.succeeds ? std::vector<std::string>{"run", "--drain"}
                             : std::vector<std::string>{"status"};
      auto r = fx.h().run_worker(args, case_env, std::chrono::seconds{60});
      INFO(c.what << " (" << format << "): exit " << r.exit_code << "\n" << r.err);
      CHECK((r.exit_code == 0) == c.succeeds);
      check_no_secret("status with the " + c.what, r.out + r.err);
    }
}
