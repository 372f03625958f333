#include <catch2/catch.hpp>

#include <string>

#include "adapters/supabase/supabase_codec.hpp"

using namespace quel;

namespace {

http_response reply(int status, const std::string& body) {
  http_response r;
  r.status = status;
  r.body = body;
  return r;
}

/// The reply to a download of in/a.png (or another call), classified.
storage_outcome classify(const http_response& r, storage_call call = storage_call::download) {
  return classify_storage_response(r, call, "in/a.png");
}

supabase_settings settings(const std::string& key) {
  supabase_settings s;
  s.url = "https://abc.supabase.co/";
  s.key = key;
  s.bucket = "images";
  return s;
}

} // namespace

TEST_CASE("the storage base URL is the project URL plus /storage/v1", "[http][supabase]") {
  CHECK(storage_base_url("https://abc.supabase.co") == "https://abc.supabase.co/storage/v1");
  CHECK(storage_base_url("https://abc.supabase.co//") == "https://abc.supabase.co/storage/v1");
  CHECK(storage_base_url("http://127.0.0.1:5000/storage/v1/")
        == "http://127.0.0.1:5000/storage/v1");
}

TEST_CASE("object paths are percent-encoded per segment", "[http][supabase]") {
  CHECK(encode_object_path("generated/0b6f/s0-i1.webp") == "generated/0b6f/s0-i1.webp");
  CHECK(encode_object_path("a b/c?d&e+f#g%h") == "a%20b/c%3Fd%26e%2Bf%23g%25h");
  CHECK(encode_object_path("café/x.png") == "caf%C3%A9/x.png");
  CHECK(encode_object_path("keep/!*'()~_.-") == "keep/!*'()~_.-");
  CHECK(object_url("https://abc.supabase.co/storage/v1", "images", "job 1/out.webp")
        == "https://abc.supabase.co/storage/v1/object/images/job%201/out.webp");
}

TEST_CASE("an sb_secret_ key is sent only as apikey", "[http][supabase]") {
  auto h = supabase_auth_headers("sb_secret_abc123");
  CHECK(header_value(h, "apikey") == "sb_secret_abc123");
  CHECK(header_value(h, "Authorization").empty());
  CHECK(h.size() == 1);
}

TEST_CASE("a legacy JWT key is sent as apikey and Bearer", "[http][supabase]") {
  std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig";
  auto h = supabase_auth_headers(jwt);
  CHECK(header_value(h, "apikey") == jwt);
  CHECK(header_value(h, "Authorization") == "Bearer " + jwt);
}

TEST_CASE("upload is a POST with x-upsert, type and cache control", "[http][supabase]") {
  blob bytes(std::string("RIFF....WEBPVP8 "));
  auto r = make_upload_request(settings("sb_secret_x"), "generated/j/s0-i0.webp", bytes,
                               "image/webp");
  CHECK(r.method == "POST");
  CHECK(r.url == "https://abc.supabase.co/storage/v1/object/images/generated/j/s0-i0.webp");
  CHECK(header_value(r.headers, "x-upsert") == "true");
  CHECK(header_value(r.headers, "Content-Type") == "image/webp");
  CHECK(header_value(r.headers, "Cache-Control") == "max-age=3600");
  CHECK(header_value(r.headers, "apikey") == "sb_secret_x");
  CHECK(&r.body.bytes() == &bytes.bytes());  // shared, not copied
  CHECK(r.total_timeout == std::chrono::seconds(60));
}

TEST_CASE("download and exists requests", "[http][supabase]") {
  auto s = settings("eyJkey");
  auto get = make_download_request(s, "in/a.png", 20 << 20);
  CHECK(get.method == "GET");
  CHECK(get.max_response_bytes == 20 << 20);
  CHECK(header_value(get.headers, "Authorization") == "Bearer eyJkey");
  auto exists = make_exists_request(s, "in/a.png");
  CHECK(exists.method == "GET");
  CHECK(header_value(exists.headers, "Range") == "bytes=0-0");
}

TEST_CASE("2xx is success, 206 included", "[http][supabase]") {
  CHECK(classify(reply(200, R"({"Id":"x","Key":"images/a"})")).ok());
  CHECK(classify(reply(206, "x")).ok());
}

TEST_CASE("HTTP 400 with statusCode 404 is a missing object", "[http][supabase]") {
  auto not_found = reply(
    400, R"({"statusCode":"404","code":"NoSuchKey","error":"not_found","message":"Object not found"})");
  auto out = classify(not_found);
  REQUIRE_FALSE(out.ok());
  CHECK(out.failure->kind == retry_class::object_missing);
  CHECK(out.failure->reason == "object not found: in/a.png");  // as the local store says
  CHECK(out.effective_status == 404);
  CHECK(out.code == "NoSuchKey");
  CHECK(classify(not_found, storage_call::exists).failure->kind
        == retry_class::object_missing);

  // An upload's 404 is a missing bucket, not a missing input object.
  auto upload = classify(not_found, storage_call::upload);
  CHECK(upload.failure->kind == retry_class::permanent);
  CHECK(upload.failure->reason
        == "storage HTTP 400 (statusCode 404) NoSuchKey: Object not found");

  auto old_server = classify(
    reply(400, R"({"statusCode":"404","error":"Bucket not found","message":"Bucket not found"})"));
  CHECK(old_server.failure->kind == retry_class::object_missing);
  auto numeric = classify(reply(400, R"({"statusCode":404})"));
  CHECK(numeric.failure->kind == retry_class::object_missing);
}

TEST_CASE("409, 413, 415, 403 and 400 in the body are permanent", "[http][supabase]") {
  struct row {
    const char* status;
    const char* code;
  };
  for (auto [status, code] : {row{"409", "KeyAlreadyExists"}, row{"413", "EntityTooLarge"},
                              row{"415", "InvalidMimeType"}, row{"403", "AccessDenied"},
                              row{"400", "InvalidKey"}}) {
    std::string body = std::string(R"({"statusCode":")") + status + R"(","code":")" + code
                       + R"(","error":"e","message":"m"})";
    auto out = classify(reply(400, body));
    INFO(status);
    CHECK(out.failure->kind == retry_class::permanent);
    CHECK(out.effective_status == std::stoi(status));
    CHECK(out.code == code);
    CHECK(out.failure->reason.find(code) != std::string::npos);
  }
}

TEST_CASE("429, 5xx and 544 are retryable", "[http][supabase]") {
  auto slow = classify(
    reply(429, R"({"statusCode":"429","code":"SlowDown","error":"too_many_connections","message":"Too many"})"));
  CHECK(slow.failure->kind == retry_class::retryable);
  auto db_timeout = classify(
    reply(544, R"({"statusCode":"544","code":"DatabaseTimeout","error":"x","message":"timeout"})"));
  CHECK(db_timeout.failure->kind == retry_class::retryable);
  CHECK(db_timeout.effective_status == 544);
  auto internal = classify(
    reply(500, R"({"statusCode":"500","code":"InternalError","error":"InternalError","message":"Internal server error"})"));
  CHECK(internal.failure->kind == retry_class::retryable);
  auto read_only = classify(
    reply(400, R"({"statusCode":"503","code":"DatabaseReadOnly","message":"read only"})"));
  CHECK(read_only.failure->kind == retry_class::retryable);
  auto gateway = classify(reply(502, "<html>bad gateway</html>"));
  CHECK(gateway.failure->kind == retry_class::retryable);
  CHECK(gateway.failure->reason == "storage HTTP 502: <html>bad gateway</html>");
}

TEST_CASE("a gateway 401 without statusCode uses the HTTP status", "[http][supabase]") {
  auto out = classify(reply(401, R"({"message":"Invalid API key","hint":"x"})"));
  CHECK(out.failure->kind == retry_class::permanent);
  CHECK(out.effective_status == 401);
  CHECK(out.code.empty());
  CHECK(out.failure->reason == "storage HTTP 401: Invalid API key");
}

TEST_CASE("storage transport failures", "[http][supabase]") {
  http_response timeout;
  timeout.failure = http_failure::timeout;
  timeout.error = "Operation timed out";
  auto t = classify(timeout);
  CHECK(t.failure->kind == retry_class::retryable);
  CHECK(t.failure->reason == "storage timeout: Operation timed out");
  http_response refused;
  refused.failure = http_failure::network;
  CHECK(classify(refused).failure->kind == retry_class::retryable);
  http_response big;
  big.failure = http_failure::too_large;
  big.error = "response larger than 10 bytes";
  auto b = classify(big);
  CHECK(b.failure->kind == retry_class::permanent);
  CHECK(b.failure->reason == "object in/a.png: response larger than 10 bytes");
}

TEST_CASE("storage requests are refused for bad keys before anything is sent",
          "[http][supabase][paths]") {
  auto s = settings("sb_secret_x");
  CHECK_FALSE(storage_request_problem(s, "generated/j/s0-i0.webp").has_value());
  // Bytes that would end the path or change the host are encoded, not refused.
  CHECK_FALSE(storage_request_problem(s, "a?b#c@evil.example:80/x.png").has_value());
  struct row { std::string key; std::string says; };
  auto r = GENERATE(values<row>({
    {"a/../b.png", "'..' segment"},
    {"a/./b.png", "'.' segment"},
    {"a//b.png", "empty segment"},
    {"https://evil.example/x.png", "scheme"},
    {"a\\b.png", "backslash"},
    {std::string("a\0b", 3), "control character"},
    {std::string(2000, 'k'), "longer than 1024 bytes"},
  }));
  INFO(r.key);
  auto problem = storage_request_problem(s, r.key);
  REQUIRE(problem.has_value());
  CHECK(problem->find(r.says) != std::string::npos);
}

TEST_CASE("storage requests go only to an http(s) base URL", "[http][supabase][paths]") {
  auto s = settings("sb_secret_x");
  s.url = "file:///etc";
  CHECK(storage_request_problem(s, "x.png") == std::optional<std::string>("storage URL is not http(s)"));
  s.url = "http://127.0.0.1:5000";
  CHECK_FALSE(storage_request_problem(s, "x.png").has_value());
}
