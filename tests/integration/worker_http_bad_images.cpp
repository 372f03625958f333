// A model reply whose image is truncated or corrupt: the worker retries it
// as a reply without a usable image (rule 18: once), and when the model
// keeps sending bad bytes the image fails with the problem named; nothing
// is stored or charged for it. (libvips alone would have decoded the cut
// PNG with grey rows, stored it as a WebP and charged for it.)
#include <tuple>

#include <catch2/catch.hpp>

#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;
using nlohmann::json;

TEST_CASE("a truncated or corrupt model image is retried once, never stored or charged",
          "[e2e][http][gemini][strict]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto& db = fx.h().db();
  auto input = fx.add_input("inputs/model.png", sample_image("png", 0), std::nullopt);

  auto rule = [](const std::string& match, json fields) {
    fields["match"] = match;
    return fields;
  };
  fx.script_gemini(json::array({
    // One cut-off image, then a good one: the retry makes the image.
    rule("P-RETRIED-CUT", {{"respond", "bad_image"}, {"kind", "truncated"}, {"times", 1}}),
    rule("P-RETRIED-CUT", {{"respond", "image_only"}}),
    // Always cut off, always corrupt: the image fails after one retry.
    rule("P-ALWAYS-CUT", {{"respond", "bad_image"}, {"kind", "truncated"}}),
    rule("P-CORRUPT", {{"respond", "bad_image"}, {"kind", "corrupt"}}),
  }));
  auto once = make_http_job(fx, "P-RETRIED-CUT", 1, {input}, 5);
  auto cut = make_http_job(fx, "P-ALWAYS-CUT", 1, {input}, 5);
  auto corrupt = make_http_job(fx, "P-CORRUPT", 1, {input}, 5);
  auto run = fx.drain();

  auto stats = fx.gemini_stats();
  CHECK(fired(stats, "P-RETRIED-CUT") == 2);
  check_http_job(fx, {once.first, once.second, 5, 1, 1, {}});

  for (auto& [job, org, prompt] : {std::tuple{cut.first, cut.second, "P-ALWAYS-CUT"},
                                   std::tuple{corrupt.first, corrupt.second, "P-CORRUPT"}}) {
    INFO(prompt << ": " << db.job(job).dump());
    CHECK(fired(stats, prompt) == 2);
    // Failed, with the reason; no object, no charge, no credit log row
    // (check_http_job counts the stored objects and the credit rows).
    check_http_job(fx, {job, org, 5, 1, 0,
                        {"1 of 1 images failed: stage 0 image 0",
                         "model image unusable: truncated or corrupt image data"}});
  }
  CHECK(fx.storage_calls("POST", "generated/") == 1);
  CHECK(run.err.find("Gemini image unusable") != std::string::npos);
}
