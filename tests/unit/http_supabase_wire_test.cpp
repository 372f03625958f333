#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "adapters/http/http_engine.hpp"
#include "adapters/http/retry_policy.hpp"
#include "adapters/supabase/supabase_codec.hpp"
#include "tests/standins/engine_sync.hpp"
#include "tests/standins/standin_process.hpp"
#include "tests/standins/supabase_standin_settings.hpp"

// The Supabase Storage codec and the engine against the stand-in speaking
// the real wire format (HTTP 400 with statusCode in the body, x-upsert, auth).

using namespace quel;
using namespace std::chrono_literals;
using json = nlohmann::json;
using quel::test::run_sync;
using quel::test::standin_call;
using quel::test::standin_process;

namespace {

const std::string secret_key = "sb_secret_wire_test";

standin_process& storage() {
  static standin_process server("supabase_standin.py",
                                {"--key", secret_key, "--buckets", "images"});
  return server;
}

supabase_settings settings() { return quel::test::standin_supabase_settings(storage(), secret_key); }

/// The failure's reason, empty for a success.
std::string failure_text(const storage_outcome& out) {
  return out.failure ? out.failure->reason : std::string();
}

/// Runs `r`, a `what` call on object `key`, and classifies its reply.
storage_outcome call(http_engine& engine, storage_call what, const std::string& key,
                     http_request r, http_response* raw = nullptr) {
  auto resp = run_sync(engine, std::move(r));
  auto out = classify_storage_response(resp, what, key);
  if (raw != nullptr)
    *raw = std::move(resp);
  return out;
}

storage_outcome upload(http_engine& engine, const supabase_settings& s, const std::string& key,
                       const blob& bytes, const std::string& type,
                       http_response* raw = nullptr) {
  return call(engine, storage_call::upload, key, make_upload_request(s, key, bytes, type), raw);
}

storage_outcome download(http_engine& engine, const supabase_settings& s, const std::string& key,
                         int64_t max_bytes, http_response* raw = nullptr) {
  return call(engine, storage_call::download, key, make_download_request(s, key, max_bytes),
              raw);
}

storage_outcome exists(http_engine& engine, const supabase_settings& s, const std::string& key,
                       http_response* raw = nullptr) {
  return call(engine, storage_call::exists, key, make_exists_request(s, key), raw);
}

json objects(http_engine& engine) {
  return standin_call(engine, storage().base_url() + "/__objects");
}

void script(http_engine& engine, const json& rules) {
  standin_call(engine, storage().base_url() + "/__control",
               json{{"reset", true}, {"script", rules}}.dump());
}

} // namespace

TEST_CASE("supabase wire: upload, overwrite, download, exists", "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  const std::string key = "generated/job-1/s0-i0.webp";
  http_response raw;
  auto up = upload(engine, s, key, blob(std::string("first")), "image/webp", &raw);
  REQUIRE(up.ok());
  CHECK(json::parse(raw.body)["Key"] == "images/" + key);

  // Writing the key again overwrites it (x-upsert), never a 409.
  REQUIRE(upload(engine, s, key, blob(std::string("second!")), "image/webp").ok());
  auto stored = objects(engine)["images/" + key];
  CHECK(stored["size"] == 7);
  CHECK(stored["content_type"] == "image/webp");
  CHECK(stored["cache_control"] == "max-age=3600");

  auto got = download(engine, s, key, 1 << 20, &raw);
  REQUIRE(got.ok());
  CHECK(raw.body == "second!");
  CHECK(header_value(raw.headers, "Content-Type") == "image/webp");

  CHECK(exists(engine, s, key, &raw).ok());
  CHECK(raw.status == 206);
  CHECK(raw.body == "s");
}

TEST_CASE("supabase wire: a missing object is reported as missing", "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  http_response raw;
  auto got = download(engine, s, "nope/none.png", 1 << 20, &raw);
  CHECK(raw.status == 400);
  REQUIRE_FALSE(got.ok());
  CHECK(got.failure->kind == retry_class::object_missing);
  CHECK(got.failure->reason == "object not found: nope/none.png");
  CHECK(got.code == "NoSuchKey");
  auto absent = exists(engine, s, "nope/none.png");
  REQUIRE_FALSE(absent.ok());
  CHECK(absent.failure->kind == retry_class::object_missing);

  s.bucket = "no-such-bucket";
  auto bucket = download(engine, s, "a.png", 1 << 20);
  REQUIRE_FALSE(bucket.ok());
  CHECK(bucket.failure->kind == retry_class::object_missing);
  CHECK(bucket.code == "NoSuchBucket");
  // Uploading into a bucket that does not exist is no missing input object.
  auto no_bucket = upload(engine, s, "a.png", blob(std::string("x")), "image/png");
  REQUIRE_FALSE(no_bucket.ok());
  CHECK(no_bucket.failure->kind == retry_class::permanent);
  CHECK(no_bucket.failure->reason.find("NoSuchBucket") != std::string::npos);
}

TEST_CASE("supabase wire: keys with spaces and symbols round trip", "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  const std::string key = "inputs/a b+c/it's (1)&x=y.png";
  REQUIRE(upload(engine, s, key, blob(std::string("img")), "image/png").ok());
  CHECK(objects(engine).contains("images/" + key));
  http_response raw;
  REQUIRE(download(engine, s, key, 100, &raw).ok());
  CHECK(raw.body == "img");
}

TEST_CASE("supabase wire: an object over the size cap is refused while downloading",
          "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  REQUIRE(upload(engine, s, "big.png", blob(std::string(5000, 'x')), "image/png").ok());
  auto out = download(engine, s, "big.png", 4999);
  REQUIRE_FALSE(out.ok());
  CHECK(out.failure->kind == retry_class::permanent);
  CHECK(out.failure->reason == "object big.png: response larger than 4999 bytes");
  CHECK(download(engine, s, "big.png", 5000).ok());
}

TEST_CASE("supabase wire: auth per key type", "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  s.key = "sb_secret_other";
  auto wrong = download(engine, s, "x.png", 1 << 20);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.failure->kind == retry_class::permanent);
  CHECK(wrong.effective_status == 401);

  // A sb_secret_ key sent as Bearer is not a JWT: the server says 403.
  auto bearer = make_download_request(settings(), "x.png", 1 << 20);
  bearer.headers.emplace_back("Authorization", "Bearer " + secret_key);
  auto denied = call(engine, storage_call::download, "x.png", bearer);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.failure->kind == retry_class::permanent);
  CHECK(denied.effective_status == 403);

  const std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2ln";
  standin_process legacy("supabase_standin.py", {"--key", jwt});
  supabase_settings ls;
  ls.url = legacy.base_url();
  ls.key = jwt;
  CHECK(upload(engine, ls, "a.png", blob(std::string("x")), "image/png").ok());
  auto no_bearer = make_download_request(ls, "a.png", 1 << 20);
  no_bearer.headers = {{"apikey", jwt}};
  CHECK(call(engine, storage_call::download, "a.png", no_bearer).effective_status == 403);
}

TEST_CASE("supabase wire: every scripted fault is classified", "[http][supabase][wire]") {
  struct row {
    const char* respond;
    retry_class kind;  // of a download; an upload's 404 (no bucket) is permanent
    int effective;
  };
  std::vector<row> rows = {
    {"missing", retry_class::object_missing, 404},
    {"conflict", retry_class::permanent, 409},
    {"too_large", retry_class::permanent, 413},
    {"mime", retry_class::permanent, 415},
    {"server_error", retry_class::retryable, 500},
    {"slow_down", retry_class::retryable, 429},
    {"db_timeout", retry_class::retryable, 544},
    {"gateway_401", retry_class::permanent, 401},
  };
  http_engine engine;
  auto s = settings();
  const std::string key = "faulty/x.webp";
  for (auto& r : rows) {
    script(engine, json::array({{{"match", "faulty/"}, {"respond", r.respond}}}));
    auto got = download(engine, s, key, 1 << 20);
    auto up = upload(engine, s, key, blob(std::string("b")), "image/webp");
    INFO(r.respond << " -> " << failure_text(got) << " / " << failure_text(up));
    REQUIRE_FALSE(got.ok());
    REQUIRE_FALSE(up.ok());
    CHECK(got.failure->kind == r.kind);
    CHECK(up.failure->kind
          == (r.kind == retry_class::object_missing ? retry_class::permanent : r.kind));
    CHECK(got.effective_status == r.effective);
    CHECK(up.effective_status == r.effective);
  }
}

TEST_CASE("supabase wire: retryable faults are retried, others are not",
          "[http][supabase][wire]") {
  http_engine engine;
  auto s = settings();
  struct row {
    json rule;
    int calls;
    bool ok;
  };
  std::vector<row> rows = {
    {{{"respond", "slow_down"}, {"times", 2}}, 3, true},
    {{{"respond", "db_timeout"}, {"times", 1}}, 2, true},
    {{{"respond", "server_error"}}, 5, false},
    {{{"respond", "conflict"}}, 1, false},
    {{{"respond", "gateway_401"}}, 1, false},
  };
  for (auto& r : rows) {
    script(engine, json::array({r.rule}));
    backoff_policy fast;
    fast.base = 10ms;
    fast.cap = 50ms;
    auto random = seeded_random(5);
    retry_state state;
    storage_outcome out;
    for (;;) {
      out = upload(engine, s, "retried.webp", blob(std::string("b")), "image/webp");
      if (out.ok())
        break;
      auto delay = next_retry(fast, state, out.failure->kind, out.failure->server_delay, random);
      if (!delay)
        break;
      std::this_thread::sleep_for(*delay);
    }
    INFO(r.rule.dump() << " -> " << failure_text(out));
    CHECK(out.ok() == r.ok);
    auto stats = standin_call(engine, storage().base_url() + "/__stats");
    CHECK(stats["total"] == r.calls);
  }
}
