// The worker end to end against the Gemini and Supabase Storage stand-ins:
// the happy path and every classification of a model reply (rules 17-19),
// bad image bytes in a well-formed reply included.
#include <catch2/catch.hpp>

#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;
using nlohmann::json;

TEST_CASE("a two-stage job runs through Supabase Storage and Gemini",
          "[e2e][http][gemini][supabase]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto& db = fx.h().db();
  auto org = db.create_org(10);
  const auto& model_png = sample_image("png", 1);
  const auto& shoes_jpg = sample_image("jpg", 2);
  auto model = fx.add_input("inputs/team a/model.png", model_png, org);
  auto shoes = fx.add_input("inputs/shoes.jpg", shoes_jpg, org);
  auto production = db.create_production(org);
  auto input = pipeline_json(
    {stage_json(0, "Stage zero: dress the model", 2,
                {attach_entry(std::to_string(model) + ".0", "model")}),
     stage_json(1, "Stage one: add the shoes", 2,
                {from_stage_entry(0, 0, "model"),
                 attach_entry("\"" + std::to_string(shoes) + "\"", "shoes")})},
    "3:4");
  auto job = db.create_job(production, org, "pipeline_stage", input);
  fx.h().enqueue(job);
  auto run = fx.drain();

  check_http_job(fx, {job, org, 10, 4, 4, {}});
  CHECK(db.production(production)["production_status"] == "completed");
  CHECK(fx.gemini_calls() == 4);
  CHECK(fx.storage_calls("POST", "generated/") == 4);
  // Each input object is downloaded by its stage (stage 1 takes stage 0's
  // image from memory).
  CHECK(fx.storage_calls("GET", "inputs/") == 2);

  auto keys = fx.output_keys();
  REQUIRE(keys.size() == 4);
  for (auto& key : keys)
    CHECK(key.find("generated/" + job + "/") == 0);
  // The stored bytes are a real WebP, served with its Content-Type.
  auto stored = fx.download(keys.front());
  REQUIRE(stored.status == 200);
  CHECK(stored.body.compare(0, 4, "RIFF") == 0);
  CHECK(stored.body.compare(8, 4, "WEBP") == 0);

  // The last call was a stage 1 image: the prompt verbatim, then stage 0's
  // image and the shoes, byte for byte, with the MIME types their bytes show.
  auto last = fx.gemini_last();
  INFO("last request: " << last.dump());
  CHECK(contains_nocase(last["prompt"].get<std::string>(), "Stage one: add the shoes"));
  CHECK(last["aspect_ratio"] == "3:4");
  CHECK(last["auth"] == "header");
  auto objects = fx.objects();
  std::vector<json> images;
  for (auto& part : last["parts"])
    if (part["kind"] == "image")
      images.push_back(part);
  REQUIRE(images.size() == 2);
  CHECK(images[0]["mime_type"] == "image/webp");
  CHECK(images[0]["sha256"] == objects["images/generated/" + job + "/s0-i0.webp"]["sha256"]);
  CHECK(images[1]["mime_type"] == "image/jpeg");
  CHECK(images[1]["sha256"] == sha256_hex(shoes_jpg));
  CHECK(images[1]["bytes"] == shoes_jpg.size());

  // Per-call log: model version, token usage, finish reason, HTTP status.
  CHECK(run.err.find("model_version") != std::string::npos);
  CHECK(run.err.find("gemini-3.1-flash-image") != std::string::npos);
  CHECK(run.err.find("total_tokens") != std::string::npos);
  // Secrets never reach the log.
  CHECK(run.err.find(secret_storage_key) == std::string::npos);
  CHECK(run.err.find(gemini_test_key) == std::string::npos);
}

TEST_CASE("every classification of a Gemini reply ends the image as rule 17-18 says",
          "[e2e][http][gemini]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto& db = fx.h().db();
  auto input = fx.add_input("inputs/model.png", sample_image("png", 0), std::nullopt);

  struct scenario {
    std::string prompt;
    json rules;            // fired for this prompt, in order
    int64_t calls;         // model calls expected
    bool completed;
    std::vector<std::string> needles;
  };
  auto rule = [](const std::string& match, json fields) {
    fields["match"] = match;
    return fields;
  };
  std::vector<scenario> cases = {
    {"P-BLOCKED", {rule("P-BLOCKED", {{"respond", "blocked_prompt"}})}, 1, false,
     {"blocked: PROHIBITED_CONTENT"}},
    {"P-SAFETY", {rule("P-SAFETY", {{"respond", "finish"}, {"finish_reason", "IMAGE_SAFETY"}})},
     1, false, {"IMAGE_SAFETY"}},
    {"P-TEXTONLY", {rule("P-TEXTONLY", {{"respond", "text_only"}})}, 2, false, {"text only"}},
    {"P-NOIMAGE", {rule("P-NOIMAGE", {{"respond", "finish"}, {"finish_reason", "NO_IMAGE"}})},
     2, false, {"NO_IMAGE"}},
    {"P-UNKNOWN",
     {rule("P-UNKNOWN", {{"respond", "finish"}, {"finish_reason", "BRAND_NEW_REASON"}})}, 2,
     false, {"BRAND_NEW_REASON"}},
    {"P-GARBAGE",
     {rule("P-GARBAGE", {{"respond", "garbage_body"}, {"times", 2}}),
      rule("P-GARBAGE", {{"respond", "image_only"}})},
     3, true, {}},
    {"P-5XX",
     {rule("P-5XX", {{"respond", "server_error"}, {"status", 500}, {"times", 1}}),
      rule("P-5XX", {{"respond", "server_error"}, {"status", 503}, {"times", 1}}),
      rule("P-5XX", {{"respond", "image_only"}})},
     3, true, {}},
    {"P-429",
     {rule("P-429", {{"respond", "rate_limit"}, {"retry_delay", "0.3s"}, {"times", 2}}),
      rule("P-429", {{"respond", "image_only"}})},
     3, true, {}},
    {"P-PERDAY", {rule("P-PERDAY", {{"respond", "rate_limit_per_day"}})}, 1, false,
     {"quota exhausted"}},
    {"P-HTTP400", {rule("P-HTTP400", {{"respond", "error"}, {"status", 400}})}, 1, false,
     {"400"}},
    {"P-HTTP403",
     {rule("P-HTTP403", {{"respond", "error"}, {"status", 403},
                         {"status_text", "PERMISSION_DENIED"}})},
     1, false, {"403"}},
    {"P-HTTP404", {rule("P-HTTP404", {{"respond", "error"}, {"status", 404}})}, 1, false,
     {"404"}},
    // A well-formed reply with a truncated or corrupt PNG is a reply without
    // a usable image: tried once more, never stored or charged (libvips
    // alone would decode it with grey rows).
    {"P-BADPNG-ONCE",
     {rule("P-BADPNG-ONCE", {{"respond", "bad_image"}, {"kind", "truncated"}, {"times", 1}}),
      rule("P-BADPNG-ONCE", {{"respond", "image_only"}})},
     2, true, {}},
    {"P-CUTPNG", {rule("P-CUTPNG", {{"respond", "bad_image"}, {"kind", "truncated"}})}, 2,
     false, {"model image unusable: truncated or corrupt image data"}},
    {"P-BADCRC", {rule("P-BADCRC", {{"respond", "bad_image"}, {"kind", "corrupt"}})}, 2,
     false, {"model image unusable: truncated or corrupt image data"}},
  };
  json script = json::array();
  for (auto& c : cases)
    for (auto& r : c.rules)
      script.push_back(r);
  fx.script_gemini(script);

  std::vector<std::pair<std::string, std::string>> jobs;
  for (auto& c : cases)
    jobs.push_back(make_http_job(fx, c.prompt, 1, {input}, 5));
  auto started = std::chrono::steady_clock::now();
  fx.drain();
  auto took = std::chrono::steady_clock::now() - started;
  // 429 twice with a 0.3 s RetryInfo: the hint was waited out, not ignored.
  CHECK(took >= std::chrono::milliseconds(600));

  auto stats = fx.gemini_stats();
  for (size_t i = 0; i < cases.size(); ++i) {
    auto& c = cases[i];
    INFO("scenario " << c.prompt << ", error_message: "
                     << db.job(jobs[i].first)["error_message"].dump());
    CHECK(fired(stats, c.prompt) == c.calls);
    check_http_job(fx, {jobs[i].first, jobs[i].second, 5, 1, c.completed ? 1 : 0,
                        c.needles});
    if (!c.completed)
      CHECK(contains_nocase(db.job(jobs[i].first)["error_message"].get<std::string>(),
                            "1 of 1 images failed: stage 0 image 0"));
  }
  CHECK(fx.gemini_calls() == 27);
}
