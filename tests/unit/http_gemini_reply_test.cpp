#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "adapters/gemini/gemini_codec.hpp"
#include "adapters/http/base64.hpp"

using namespace quel;
using json = nlohmann::json;

namespace {

const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + "final";
const std::string draft_jpeg = std::string("\xff\xd8\xff\xe0", 4) + "draft";

http_response reply(int status, const std::string& body) {
  http_response r;
  r.status = status;
  r.body = body;
  return r;
}

http_response ok(const json& body) {
  return reply(200, body.dump());
}

json inline_part(const std::string& bytes, const std::string& mime) {
  return {{"inlineData", {{"mimeType", mime}, {"data", base64_encode(bytes)}}}};
}

json candidate(json parts, const std::string& finish = "STOP") {
  json c = {{"finishReason", finish}, {"index", 0}};
  if (!parts.is_null())
    c["content"] = {{"role", "model"}, {"parts", std::move(parts)}};
  return c;
}

json success_body(json parts) {
  return {{"candidates", json::array({candidate(std::move(parts))})},
          {"usageMetadata",
           {{"promptTokenCount", 323}, {"candidatesTokenCount", 1319}, {"totalTokenCount", 1642}}},
          {"modelVersion", "gemini-2.5-flash-image"},
          {"responseId", "abc"}};
}

json error_body(int code, const std::string& status, const std::string& message,
                json details = nullptr) {
  json e = {{"code", code}, {"message", message}, {"status", status}};
  if (!details.is_null())
    e["details"] = std::move(details);
  return {{"error", e}};
}

json quota_details(const std::string& quota_id, const std::string& delay) {
  return json::array(
    {{{"@type", "type.googleapis.com/google.rpc.QuotaFailure"},
      {"violations", json::array({{{"quotaId", quota_id}, {"quotaValue", "2"}}})}},
     {{"@type", "type.googleapis.com/google.rpc.Help"}, {"links", json::array()}},
     {{"@type", "type.googleapis.com/google.rpc.RetryInfo"}, {"retryDelay", delay}}});
}

} // namespace

TEST_CASE("an image reply yields the decoded image and metadata", "[http][gemini]") {
  auto out = classify_response(
    ok(success_body({{{"text", "Here is the image."}}, inline_part(png, "image/png")})));
  REQUIRE(out.kind == gemini_result::image);
  CHECK(out.ok());
  CHECK_FALSE(out.failure.has_value());
  CHECK(out.image.bytes() == png);
  CHECK(out.image_mime == "image/png");
  CHECK(out.model_version == "gemini-2.5-flash-image");
  CHECK(out.usage.prompt_tokens == 323);
  CHECK(out.usage.candidate_tokens == 1319);
  CHECK(out.usage.total_tokens == 1642);
  CHECK(out.finish_reason == "STOP");
  }

TEST_CASE("token counts that are not whole int64 numbers count as 0", "[http][gemini]") {
  // Converting 1e300 to int64 is undefined behaviour (it came out as
  // INT64_MIN); a count from the network is taken only when it is a whole
  // number in 0..INT64_MAX (docs/SECURITY.md section 8, row M22).
  auto body = success_body({inline_part(png, "image/png")});
  body["usageMetadata"] = {{"promptTokenCount", 1e300},
                           {"candidatesTokenCount", -1},
                           {"totalTokenCount", 1.5}};
  auto out = classify_response(ok(body));
  REQUIRE(out.kind == gemini_result::image);
  CHECK(out.usage.prompt_tokens == 0);
  CHECK(out.usage.candidate_tokens == 0);
  CHECK(out.usage.total_tokens == 0);
  body["usageMetadata"] = {{"promptTokenCount", 18446744073709551615ULL},
                           {"totalTokenCount", 9223372036854775807LL}};
  out = classify_response(ok(body));
  CHECK(out.usage.prompt_tokens == 0);
  CHECK(out.usage.total_tokens == 9223372036854775807LL);
}

TEST_CASE("thought parts are skipped when picking the image", "[http][gemini]") {
  json draft = inline_part(draft_jpeg, "image/jpeg");
  draft["thought"] = true;
  json final_part = inline_part(png, "image/png");
  final_part["thoughtSignature"] = "c2ln";
  auto out = classify_response(ok(success_body(
    {{{"text", "thinking"}, {"thought", true}}, draft, {{"text", "done"}}, final_part})));
  REQUIRE(out.kind == gemini_result::image);
  CHECK(out.image.bytes() == png);
  CHECK(out.image_mime == "image/png");

  // A reply whose only image is a thought has no image.
  auto only_draft = classify_response(ok(success_body({draft})));
  CHECK(only_draft.kind == gemini_result::no_image);
}

TEST_CASE("the last non-thought image wins", "[http][gemini]") {
  auto out = classify_response(
    ok(success_body({inline_part(draft_jpeg, "image/jpeg"), inline_part(png, "image/png")})));
  REQUIRE(out.kind == gemini_result::image);
  CHECK(out.image.bytes() == png);
}

TEST_CASE("the reply's JPEG mimeType is honoured", "[http][gemini]") {
  auto out = classify_response(ok(success_body({inline_part(draft_jpeg, "image/jpeg")})));
  REQUIRE(out.kind == gemini_result::image);
  CHECK(out.image_mime == "image/jpeg");
  CHECK(out.image.bytes() == draft_jpeg);
}

TEST_CASE("a missing mimeType is sniffed from the bytes", "[http][gemini]") {
  json part = {{"inlineData", {{"data", base64_encode(png)}}}};
  auto out = classify_response(ok(success_body({part})));
  REQUIRE(out.kind == gemini_result::image);
  CHECK(out.image_mime == "image/png");
}

TEST_CASE("a blocked prompt is permanent", "[http][gemini]") {
  for (std::string reason : {"SAFETY", "PROHIBITED_CONTENT", "OTHER", "SOME_FUTURE_REASON"}) {
    json body = {{"promptFeedback", {{"blockReason", reason}, {"safetyRatings", json::array()}}},
                 {"usageMetadata", {{"promptTokenCount", 10}}}};
    auto out = classify_response(ok(body));
    INFO(reason);
    CHECK(out.kind == gemini_result::blocked);
    CHECK(out.failure->reason == "blocked: " + reason);
    CHECK(out.failure->kind == retry_class::permanent);
    CHECK(out.usage.prompt_tokens == 10);
  }
}

TEST_CASE("refusing finish reasons are permanent", "[http][gemini]") {
  for (std::string finish : {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT",
                             "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII"}) {
    auto out = classify_response(ok({{"candidates", json::array({candidate(nullptr, finish)})}}));
    INFO(finish);
    CHECK(out.kind == gemini_result::finish_refused);
    CHECK(out.failure->reason == finish);
    CHECK(out.failure->kind == retry_class::permanent);
  }
}

TEST_CASE("other replies without an image are retried once", "[http][gemini]") {
  for (std::string finish : {"NO_IMAGE", "IMAGE_OTHER", "RECITATION", "IMAGE_RECITATION",
                             "MAX_TOKENS", "OTHER", "LANGUAGE", "BRAND_NEW_REASON_2027"}) {
    auto out = classify_response(ok({{"candidates", json::array({candidate(nullptr, finish)})}}));
    INFO(finish);
    CHECK(out.kind == gemini_result::no_image);
    CHECK(out.failure->reason == finish);
    CHECK(out.failure->kind == retry_class::retry_once);
  }
}

TEST_CASE("STOP with text only keeps the text in the reason", "[http][gemini]") {
  std::string text(300, 'a');
  auto out = classify_response(ok(success_body({{{"text", text}}})));
  CHECK(out.kind == gemini_result::no_image);
  CHECK(out.failure->reason == "text only: " + std::string(200, 'a') + "...");
  CHECK(out.detail == text);
  CHECK(out.failure->kind == retry_class::retry_once);

  auto short_text = classify_response(ok(success_body({{{"text", "I cannot draw that."}}})));
  CHECK(short_text.failure->reason == "text only: I cannot draw that.");
}

TEST_CASE("no candidates and empty candidates are no_image", "[http][gemini]") {
  CHECK(classify_response(ok({{"modelVersion", "m"}})).kind == gemini_result::no_image);
  CHECK(classify_response(ok({{"candidates", json::array()}})).failure->reason == "no candidates");
  auto empty_parts = classify_response(ok(success_body(json::array())));
  CHECK(empty_parts.kind == gemini_result::no_image);
}

TEST_CASE("odd enum values and shapes never crash", "[http][gemini]") {
  auto numeric = classify_response(
    ok({{"candidates", json::array({{{"finishReason", 17}}})}}));
  CHECK(numeric.kind == gemini_result::no_image);
  CHECK(numeric.failure->reason == "17");
  auto weird_parts = classify_response(
    ok({{"candidates", json::array({{{"content", {{"parts", "nope"}}}}})}}));
  CHECK(weird_parts.kind == gemini_result::no_image);
  auto not_object_candidate = classify_response(ok({{"candidates", json::array({42})}}));
  CHECK(not_object_candidate.kind == gemini_result::no_image);
}

TEST_CASE("a 200 whose body is not a JSON object is retryable", "[http][gemini]") {
  for (std::string body : {"<html><body>upstream error</body></html>",
                           R"({"candidates":[{"content":{"parts":[{"inlineData":{"mi)", "[]",
                           "\"text\"", ""}) {
    auto out = classify_response(reply(200, body));
    INFO(body);
    CHECK(out.kind == gemini_result::retryable);
    CHECK(out.failure->kind == retry_class::retryable);
    CHECK(out.failure->reason.rfind("malformed reply", 0) == 0);
  }
}

TEST_CASE("broken base64 image data is retryable", "[http][gemini]") {
  json part = {{"inlineData", {{"mimeType", "image/png"}, {"data", "!!!not base64!!!"}}}};
  auto out = classify_response(ok(success_body({part})));
  CHECK(out.kind == gemini_result::retryable);
}

TEST_CASE("429 with RetryInfo honours the delay", "[http][gemini]") {
  auto out = classify_response(reply(
    429, error_body(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.",
                    quota_details("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "56s"))
           .dump()));
  CHECK(out.kind == gemini_result::rate_limited);
  CHECK(out.failure->kind == retry_class::retryable);
  REQUIRE(out.failure->server_delay.has_value());
  CHECK(out.failure->server_delay->count() == 56000);
  CHECK(out.failure->reason.rfind("HTTP 429 RESOURCE_EXHAUSTED: You exceeded", 0) == 0);

  auto fractional = classify_response(reply(
    429, error_body(429, "RESOURCE_EXHAUSTED", "slow down",
                    quota_details("PerMinute", "0.539477544s")).dump()));
  REQUIRE(fractional.failure->server_delay.has_value());
  CHECK(fractional.failure->server_delay->count() == 540);
}

TEST_CASE("a bare 429 falls back to backoff", "[http][gemini]") {
  auto out = classify_response(reply(
    429, error_body(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
           .dump()));
  CHECK(out.kind == gemini_result::rate_limited);
  CHECK_FALSE(out.failure->server_delay.has_value());
  CHECK(out.failure->kind == retry_class::retryable);
}

TEST_CASE("a per-day quota or a delay over 60 s is quota exhausted", "[http][gemini]") {
  auto per_day = classify_response(reply(
    429, error_body(429, "RESOURCE_EXHAUSTED", "quota",
                    quota_details("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "20s"))
           .dump()));
  CHECK(per_day.kind == gemini_result::permanent);
  CHECK(per_day.failure->reason == "quota exhausted");
  CHECK(per_day.failure->kind == retry_class::permanent);

  auto long_delay = classify_response(reply(
    429, error_body(429, "RESOURCE_EXHAUSTED", "quota", quota_details("PerMinute", "61s"))
           .dump()));
  CHECK(long_delay.kind == gemini_result::permanent);
  CHECK(long_delay.failure->reason == "quota exhausted");

  auto exactly_60 = classify_response(reply(
    429, error_body(429, "RESOURCE_EXHAUSTED", "quota", quota_details("PerMinute", "60s"))
           .dump()));
  CHECK(exactly_60.kind == gemini_result::rate_limited);
}

TEST_CASE("an error body wrapped in a one-element array is understood", "[http][gemini]") {
  json wrapped = json::array(
    {error_body(429, "RESOURCE_EXHAUSTED", "q", quota_details("PerMinute", "3s"))});
  auto out = classify_response(reply(429, wrapped.dump()));
  CHECK(out.kind == gemini_result::rate_limited);
  REQUIRE(out.failure->server_delay.has_value());
  CHECK(out.failure->server_delay->count() == 3000);
}

TEST_CASE("5xx replies are retryable", "[http][gemini]") {
  for (auto [code, status] : {std::pair<int, std::string>{500, "INTERNAL"},
                              {503, "UNAVAILABLE"}, {504, "DEADLINE_EXCEEDED"}}) {
    auto out = classify_response(
      reply(code, error_body(code, status, "The model is overloaded.").dump()));
    INFO(code);
    CHECK(out.kind == gemini_result::retryable);
    CHECK(out.http_status == code);
    CHECK(out.failure->reason == "HTTP " + std::to_string(code) + " " + status
                          + ": The model is overloaded.");
  }
  auto gateway = classify_response(reply(502, "<html>Bad Gateway</html>"));
  CHECK(gateway.kind == gemini_result::retryable);
  CHECK(gateway.failure->reason == "HTTP 502: <html>Bad Gateway</html>");
}

TEST_CASE("other 4xx replies are permanent", "[http][gemini]") {
  auto not_found = classify_response(reply(
    404, error_body(404, "NOT_FOUND",
                    "models/x is not found for API version v1beta, or is not supported for "
                    "generateContent.").dump()));
  CHECK(not_found.kind == gemini_result::permanent);
  CHECK(not_found.failure->reason.rfind("HTTP 404 NOT_FOUND: models/x is not found", 0) == 0);

  auto bad_key = classify_response(reply(
    400, error_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
           .dump()));
  CHECK(bad_key.kind == gemini_result::permanent);
  CHECK(bad_key.failure->kind == retry_class::permanent);

  auto denied = classify_response(
    reply(403, error_body(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers")
                 .dump()));
  CHECK(denied.kind == gemini_result::permanent);
  CHECK(classify_response(reply(408, "")).kind == gemini_result::permanent);
  CHECK(classify_response(reply(408, "")).failure->reason == "HTTP 408");
}

TEST_CASE("transport failures are classified", "[http][gemini]") {
  http_response timeout;
  timeout.failure = http_failure::timeout;
  timeout.error = "Operation timed out after 120000 milliseconds";
  auto t = classify_response(timeout);
  CHECK(t.kind == gemini_result::retryable);
  CHECK(t.failure->reason == "timeout");
  CHECK(t.detail == timeout.error);

  http_response network;
  network.failure = http_failure::network;
  CHECK(classify_response(network).kind == gemini_result::retryable);

  // Over the reply cap: a bad reply (retried once), with the cap in its reason.
  http_response huge;
  huge.failure = http_failure::too_large;
  huge.error = "response larger than 16777216 bytes";
  auto h = classify_response(huge);
  CHECK(h.kind == gemini_result::no_image);
  CHECK(h.failure->kind == retry_class::retry_once);
  CHECK(h.failure->reason == "model reply too large: response larger than 16777216 bytes");
}
