#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "adapters/http/http_engine.hpp"
#include "adapters/supabase/supabase_codec.hpp"
#include "tests/standins/engine_sync.hpp"
#include "tests/standins/standin_process.hpp"

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

supabase_settings settings() {
  supabase_settings s;
  s.url = storage().base_url() + "/";
  s.key = secret_key;
  s.bucket = "images";
  s.timeout = 10s;
  return s;
}

storage_outcome call(http_engine& engine, http_request r, http_response* raw = nullptr) {
  auto resp = run_sync(engine, std::move(r));
  auto out = classify_storage_response(resp);
  if (raw != nullptr)
    *raw = std::move(resp);
  return out;
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
  auto up = call(engine, make_upload_request(s, key, blob(std::string("first")), "image/webp"),
                 &raw);
  REQUIRE(up.ok());
  CHECK(json::parse(raw.body)["Key"] == "images/" + key);

  // Writing the key again overwrites it (x-upsert), never a 409.
  REQUIRE(call(engine, make_upload_request(s, key, blob(std::string("second!")), "image/webp"))
            .ok());
  auto stored = objects(engine)["images/" + key];
  CHECK(stored["size"] == 7);
  CHECK(stored["content_type"] == "image/webp");
  CHECK(stored["cache_control"] == "max-age=3600");

  auto got = call(engine, make_download_request(s, key, 1 << 20), &raw);
  REQUIRE(got.ok());
  CHECK(raw.body == "second!");
  CHECK(header_value(raw.headers, "Content-Type") == "image/webp");

  auto exists = call(engine, make_exists_request(s, key), &raw);
  CHECK(exists.ok());
  CHECK(raw.status == 206);
  CHECK(raw.body == "s");
}

TEST_CASE("supabase wire: a missing object is reported as missing", "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  http_response raw;
  auto got = call(engine, make_download_request(s, "nope/none.png", 1 << 20), &raw);
  CHECK(raw.status == 400);
  CHECK(got.kind == storage_result::missing);
  CHECK(got.code == "NoSuchKey");
  CHECK(call(engine, make_exists_request(s, "nope/none.png")).kind == storage_result::missing);

  s.bucket = "no-such-bucket";
  auto bucket = call(engine, make_download_request(s, "a.png", 1 << 20));
  CHECK(bucket.kind == storage_result::missing);
  CHECK(bucket.code == "NoSuchBucket");
}

TEST_CASE("supabase wire: keys with spaces and symbols round trip", "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  const std::string key = "inputs/a b+c/it's (1)&x=y.png";
  REQUIRE(call(engine, make_upload_request(s, key, blob(std::string("img")), "image/png")).ok());
  CHECK(objects(engine).contains("images/" + key));
  http_response raw;
  REQUIRE(call(engine, make_download_request(s, key, 100), &raw).ok());
  CHECK(raw.body == "img");
}

TEST_CASE("supabase wire: an object over the size cap is refused while downloading",
          "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  REQUIRE(call(engine, make_upload_request(s, "big.png", blob(std::string(5000, 'x')),
                                           "image/png"))
            .ok());
  auto out = call(engine, make_download_request(s, "big.png", 4999));
  CHECK(out.kind == storage_result::permanent);
  CHECK(out.reason.find("too large") != std::string::npos);
  CHECK(call(engine, make_download_request(s, "big.png", 5000)).ok());
}

TEST_CASE("supabase wire: auth per key type", "[http][supabase][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  s.key = "sb_secret_other";
  auto wrong = call(engine, make_download_request(s, "x.png", 1 << 20));
  CHECK(wrong.kind == storage_result::permanent);
  CHECK(wrong.effective_status == 401);

  // A sb_secret_ key sent as Bearer is not a JWT: the server says 403.
  auto bearer = make_download_request(settings(), "x.png", 1 << 20);
  bearer.headers.emplace_back("Authorization", "Bearer " + secret_key);
  auto denied = call(engine, bearer);
  CHECK(denied.kind == storage_result::permanent);
  CHECK(denied.effective_status == 403);

  const std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2ln";
  standin_process legacy("supabase_standin.py", {"--key", jwt});
  supabase_settings ls;
  ls.url = legacy.base_url();
  ls.key = jwt;
  CHECK(call(engine, make_upload_request(ls, "a.png", blob(std::string("x")), "image/png")).ok());
  auto no_bearer = make_download_request(ls, "a.png", 1 << 20);
  no_bearer.headers = {{"apikey", jwt}};
  CHECK(call(engine, no_bearer).effective_status == 403);
}

TEST_CASE("supabase wire: every scripted fault is classified", "[http][supabase][wire]") {
  struct row {
    const char* respond;
    storage_result kind;
    int effective;
  };
  std::vector<row> rows = {
    {"missing", storage_result::missing, 404},
    {"conflict", storage_result::permanent, 409},
    {"too_large", storage_result::permanent, 413},
    {"mime", storage_result::permanent, 415},
    {"server_error", storage_result::retryable, 500},
    {"slow_down", storage_result::retryable, 429},
    {"db_timeout", storage_result::retryable, 544},
    {"gateway_401", storage_result::permanent, 401},
  };
  http_engine engine;
  auto s = settings();
  for (auto& r : rows) {
    script(engine, json::array({{{"match", "faulty/"}, {"respond", r.respond}}}));
    auto out = call(engine, make_upload_request(s, "faulty/x.webp", blob(std::string("b")),
                                                "image/webp"));
    INFO(r.respond << " -> " << out.reason);
    CHECK(out.kind == r.kind);
    CHECK(out.effective_status == r.effective);
    CHECK(out.to_error().retryable() == (r.kind == storage_result::retryable));
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
    retry_policy policy(fast, seeded_random(5));
    storage_outcome out;
    for (;;) {
      out = call(engine, make_upload_request(s, "retried.webp", blob(std::string("b")),
                                             "image/webp"));
      if (out.ok())
        break;
      auto next = policy.on_failure(out.retry());
      if (!next.retry)
        break;
      std::this_thread::sleep_for(next.delay);
    }
    INFO(r.rule.dump() << " -> " << out.reason);
    CHECK(out.ok() == r.ok);
    auto stats = standin_call(engine, storage().base_url() + "/__stats");
    CHECK(stats["total"] == r.calls);
  }
}
