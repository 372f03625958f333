#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "adapters/gemini/gemini_codec.hpp"
#include "adapters/gemini/image_convert.hpp"
#include "adapters/http/http_engine.hpp"
#include "adapters/http/retry_policy.hpp"
#include "tests/standins/engine_sync.hpp"
#include "tests/standins/standin_process.hpp"

// The Gemini codec and the engine against the stand-in speaking the real
// wire format, including a retry loop shaped like the one the image actor runs.

using namespace quel;
using namespace std::chrono_literals;
using json = nlohmann::json;
using quel::test::run_sync;
using quel::test::standin_call;
using quel::test::standin_process;

namespace {

const std::string jpeg_input = std::string("\xff\xd8\xff\xe0", 4) + "input-one";
const std::string png_input = std::string("\x89PNG\r\n\x1a\n", 8) + "input-two!";

standin_process& gemini() {
  static standin_process server("gemini_standin.py", {"--key", "wire-key"});
  return server;
}

gemini_settings settings() {
  gemini_settings s;
  s.base_url = gemini().base_url();
  s.api_key = "wire-key";
  s.model = "gemini-3.1-flash-image";
  s.timeout = 10s;
  return s;
}

generation_request request(const std::string& prompt) {
  generation_request r;
  r.image.job_id = quel::ids::job{"00000000-0000-0000-0000-000000000001"};
  r.prompt = prompt;
  r.inputs.push_back({"model", "the person", "", blob(jpeg_input)});
  r.inputs.push_back({"top", "the top", "", blob(png_input)});
  r.aspect_ratio = "4:5";
  return r;
}

void script(http_engine& engine, const json& rules) {
  standin_call(engine, gemini().base_url() + "/__control",
               json{{"reset", true}, {"script", rules}}.dump());
}

int calls_made(http_engine& engine) {
  return standin_call(engine, gemini().base_url() + "/__stats")["total"].get<int>();
}

/// The failure's reason, empty for an image.
std::string failure_text(const gemini_outcome& out) {
  return out.failure ? out.failure->reason : std::string();
}

/// What image actor and stage do: call, classify, ask next_retry (the
/// StageActor's decision), wait, repeat.
gemini_outcome generate_with_retries(http_engine& engine, const gemini_settings& s,
                                     const generation_request& req) {
  backoff_policy fast;  // the contract's attempts, shorter waits
  fast.base = 20ms;
  fast.cap = 1000ms;  // also the longest server delay honoured
  auto random = seeded_random(99);
  retry_state state;
  for (;;) {
    auto out = classify_response(run_sync(engine, make_gemini_request(s, req)));
    if (out.ok())
      return out;
    auto delay = next_retry(fast, state, out.failure->kind, out.failure->server_delay, random);
    if (!delay)
      return out;
    std::this_thread::sleep_for(*delay);
  }
}

} // namespace

TEST_CASE("gemini wire: an image comes back and the request arrived intact",
          "[http][gemini][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto out = classify_response(run_sync(engine, make_gemini_request(settings(),
                                                                     request("wire success"))));
  REQUIRE(out.kind == gemini_result::image);
  CHECK(out.image_mime == "image/png");
  CHECK(out.model_version == "gemini-3.1-flash-image");
  CHECK(out.usage.total_tokens > 0);
  auto webp = convert_image(out.image, output_format::webp);
  CHECK(sniff_image_mime(webp.bytes()) == std::string("image/webp"));

  auto last = standin_call(engine, gemini().base_url() + "/__last");
  CHECK(last["auth"] == "header");
  CHECK(last["snake_case"] == false);
  CHECK(last["prompt"] == "wire success");
  CHECK(last["roles"] == json::array({"user"}));
  CHECK(last["aspect_ratio"] == "4:5");
  CHECK(last["response_modalities"] == json::array({"TEXT", "IMAGE"}));
  REQUIRE(last["parts"].size() == 3);
  CHECK(last["parts"][0]["kind"] == "text");
  CHECK(last["parts"][1]["mime_type"] == "image/jpeg");
  CHECK(last["parts"][1]["bytes"] == jpeg_input.size());
  CHECK(last["parts"][2]["mime_type"] == "image/png");
  CHECK(last["parts"][2]["bytes"] == png_input.size());
}

TEST_CASE("gemini wire: key and model errors are permanent", "[http][gemini][wire]") {
  http_engine engine;
  script(engine, json::array());
  auto s = settings();
  s.api_key = "wrong";
  auto bad_key = classify_response(run_sync(engine, make_gemini_request(s, request("k"))));
  CHECK(bad_key.kind == gemini_result::permanent);
  CHECK(bad_key.failure->reason.find("HTTP 400 INVALID_ARGUMENT: API key not valid") == 0);

  s.api_key.clear();
  auto no_key = classify_response(run_sync(engine, make_gemini_request(s, request("k"))));
  CHECK(no_key.kind == gemini_result::permanent);
  CHECK(no_key.failure->reason.find("HTTP 403 PERMISSION_DENIED") == 0);

  s = settings();
  s.model = "gemini-0-nope";
  auto no_model = classify_response(run_sync(engine, make_gemini_request(s, request("k"))));
  CHECK(no_model.kind == gemini_result::permanent);
  CHECK(no_model.failure->reason.find("HTTP 404 NOT_FOUND: models/gemini-0-nope is not found")
        == 0);
}

TEST_CASE("gemini wire: every scripted outcome is classified", "[http][gemini][wire]") {
  struct row {
    json rule;
    gemini_result kind;
    std::string reason_prefix;
  };
  std::vector<row> rows = {
    {{{"respond", "rate_limit"}, {"retry_delay", "7s"}}, gemini_result::rate_limited,
     "HTTP 429 RESOURCE_EXHAUSTED"},
    {{{"respond", "rate_limit_bare"}}, gemini_result::rate_limited, "HTTP 429"},
    {{{"respond", "rate_limit_per_day"}}, gemini_result::permanent, "quota exhausted"},
    {{{"respond", "server_error"}, {"status", 503}}, gemini_result::retryable,
     "HTTP 503 UNAVAILABLE"},
    {{{"respond", "server_error"}, {"status", 504}}, gemini_result::retryable,
     "HTTP 504 DEADLINE_EXCEEDED"},
    {{{"respond", "blocked_prompt"}}, gemini_result::blocked, "blocked: PROHIBITED_CONTENT"},
    {{{"respond", "finish"}, {"finish_reason", "IMAGE_SAFETY"}}, gemini_result::finish_refused,
     "IMAGE_SAFETY"},
    {{{"respond", "finish"}, {"finish_reason", "NO_IMAGE"}}, gemini_result::no_image,
     "NO_IMAGE"},
    {{{"respond", "finish"}, {"finish_reason", "NEW_REASON"}}, gemini_result::no_image,
     "NEW_REASON"},
    {{{"respond", "text_only"}, {"text", "I would rather not."}}, gemini_result::no_image,
     "text only: I would rather not."},
    {{{"respond", "garbage_body"}}, gemini_result::retryable, "malformed reply"},
    {{{"respond", "truncated"}}, gemini_result::retryable, "malformed reply"},
    {{{"respond", "error"}, {"status", 400}, {"message", "Provided image is not valid"}},
     gemini_result::permanent, "HTTP 400 INVALID_ARGUMENT: Provided image is not valid"},
    {{{"respond", "thought_parts"}}, gemini_result::image, ""},
    {{{"respond", "jpeg_output"}}, gemini_result::image, ""},
    {{{"respond", "image_only"}}, gemini_result::image, ""},
  };
  http_engine engine;
  for (auto& r : rows) {
    script(engine, json::array({r.rule}));
    auto out = classify_response(run_sync(engine, make_gemini_request(settings(),
                                                                       request("scripted"))));
    INFO(r.rule.dump() << " -> " << to_string(out.kind) << ": " << failure_text(out));
    CHECK(out.kind == r.kind);
    CHECK(failure_text(out).rfind(r.reason_prefix, 0) == 0);
    if (r.rule["respond"] == "rate_limit")
      CHECK(out.failure->server_delay == std::chrono::milliseconds(7000));
    if (r.rule["respond"] == "thought_parts")
      CHECK(out.image_mime == "image/png");  // the draft was a JPEG thought
    if (r.rule["respond"] == "jpeg_output")
      CHECK(out.image_mime == "image/jpeg");
  }
}

TEST_CASE("gemini wire: the client timeout turns a hung call into a retry",
          "[http][gemini][wire]") {
  http_engine engine;
  script(engine, json::array({{{"respond", "timeout"}, {"times", 1}}}));
  auto s = settings();
  s.timeout = 400ms;
  auto first = classify_response(run_sync(engine, make_gemini_request(s, request("hang"))));
  CHECK(first.kind == gemini_result::retryable);
  CHECK(first.failure->reason == "timeout");
  auto out = generate_with_retries(engine, s, request("hang"));
  CHECK(out.kind == gemini_result::image);
}

TEST_CASE("gemini wire: how many calls each failure costs", "[http][gemini][wire]") {
  http_engine engine;
  auto s = settings();
  struct row {
    json rule;
    int calls;
    gemini_result kind;
  };
  std::vector<row> rows = {
    {{{"respond", "error"}, {"status", 400}}, 1, gemini_result::permanent},
    {{{"respond", "error"}, {"status", 404}, {"status_text", "NOT_FOUND"}}, 1,
     gemini_result::permanent},
    {{{"respond", "blocked_prompt"}}, 1, gemini_result::blocked},
    {{{"respond", "finish"}, {"finish_reason", "SAFETY"}}, 1, gemini_result::finish_refused},
    {{{"respond", "rate_limit_per_day"}}, 1, gemini_result::permanent},
    {{{"respond", "finish"}, {"finish_reason", "NO_IMAGE"}}, 2, gemini_result::no_image},
    {{{"respond", "text_only"}}, 2, gemini_result::no_image},
    {{{"respond", "server_error"}, {"times", 2}}, 3, gemini_result::image},
    {{{"respond", "garbage_body"}, {"times", 1}}, 2, gemini_result::image},
    {{{"respond", "server_error"}, {"status", 503}}, 5, gemini_result::retryable},
    {{{"respond", "rate_limit_bare"}}, 5, gemini_result::rate_limited},
  };
  for (auto& r : rows) {
    script(engine, json::array({r.rule}));
    auto out = generate_with_retries(engine, s, request("counted"));
    INFO(r.rule.dump() << " -> " << to_string(out.kind) << ": " << failure_text(out));
    CHECK(out.kind == r.kind);
    CHECK(calls_made(engine) == r.calls);
  }
}

TEST_CASE("gemini wire: RetryInfo delay is waited out before the retry",
          "[http][gemini][wire]") {
  http_engine engine;
  script(engine,
         json::array({{{"respond", "rate_limit"}, {"retry_delay", "0.4s"}, {"times", 1}}}));
  auto start = std::chrono::steady_clock::now();
  auto out = generate_with_retries(engine, settings(), request("rate limited"));
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(out.kind == gemini_result::image);
  CHECK(calls_made(engine) == 2);
  CHECK(took >= 400ms);
}
