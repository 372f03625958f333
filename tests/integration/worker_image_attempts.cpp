// Attempts per image (issue 11): `status JOB_ID --json` shows how many times
// the worker tried each image, for images it made (stored with the commit)
// and for images it gave up (stored with the job's finish), in a separate
// process after the worker is gone.
#include <catch2/catch.hpp>

#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;
using json = nlohmann::json;

namespace {

json rule(const std::string& match, json fields) {
  fields["match"] = match;
  return fields;
}

json job_status(http_backends& fx, const std::string& job) {
  auto r = fx.h().run_worker({"status", "--json", job}, {}, std::chrono::seconds{30});
  INFO("status stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto doc = json::parse(r.out, nullptr, false);
  REQUIRE(doc.is_object());
  return doc;
}

const json& image_of(const json& doc, int stage, int image) {
  for (auto& s : doc["stages"])
    if (s["stage_index"] == stage)
      return s["images"].at(static_cast<size_t>(image));
  FAIL("no stage " << stage << " in " << doc.dump());
  throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("status JOB_ID shows each image's attempts, made and given up",
          "[e2e][http][status][attempts]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto& db = fx.h().db();
  auto org = db.create_org(100);
  auto model = fx.add_input("inputs/model.png", sample_image("png", 0), org);

  // Stage 0's one image: the model's first answer is a retryable 503, the
  // second an image. Stage 1's two images succeed at once.
  fx.script_gemini(json::array(
    {rule("P-ONCE", {{"respond", "server_error"}, {"status", 503}, {"times", 1}}),
     rule("P-ALWAYS", {{"respond", "server_error"}, {"status", 500}}),
     rule("P-REFUSED", {{"respond", "error"}, {"status", 400}})}));
  auto input = pipeline_json(
    {stage_json(0, "P-ONCE stage zero", 1, {attach_entry(std::to_string(model), "model")}),
     stage_json(1, "stage one at once", 2, {attach_entry(std::to_string(model), "model")})});
  auto job = db.create_job(db.create_production(org), org, "pipeline_stage", input);
  fx.h().enqueue(job);
  // Given up: retried until retry.image_attempts (3 here), and refused at
  // once (a 400 is permanent).
  auto always = make_http_job(fx, "P-ALWAYS", 1, {model}, 10);
  auto refused = make_http_job(fx, "P-REFUSED", 1, {model}, 10);
  fx.drain({{"QUEL_RETRY_IMAGE_ATTEMPTS", "3"}});
  CHECK(fired(fx.gemini_stats(), "P-ONCE") == 1);
  CHECK(fired(fx.gemini_stats(), "P-ALWAYS") == 3);

  auto doc = job_status(fx, job);
  INFO("status: " << doc.dump());
  CHECK(doc["status"] == "completed");
  CHECK(image_of(doc, 0, 0)["outcome"] == "made");
  CHECK(image_of(doc, 0, 0)["attempts"] == 2);
  for (int i = 0; i < 2; ++i) {
    CHECK(image_of(doc, 1, i)["outcome"] == "made");
    CHECK(image_of(doc, 1, i)["attempts"] == 1);
    CHECK(image_of(doc, 1, i)["attach_id"].is_number());
  }
  CHECK(doc["credit_log"].size() == 3);

  auto a = job_status(fx, always.first);
  INFO("always failing: " << a.dump());
  CHECK(a["status"] == "failed");
  CHECK(image_of(a, 0, 0)["outcome"] == "failed");
  CHECK(image_of(a, 0, 0)["attempts"] == 3);
  CHECK(image_of(a, 0, 0)["reason"].get<std::string>().find("500") != std::string::npos);

  auto r = job_status(fx, refused.first);
  INFO("refused: " << r.dump());
  CHECK(image_of(r, 0, 0)["outcome"] == "failed");
  CHECK(image_of(r, 0, 0)["attempts"] == 1);

  // The text form prints them too.
  auto text = fx.h().run_worker({"status", job}, {}, std::chrono::seconds{30});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.find("attempts 2") != std::string::npos);
  CHECK(text.out.find("attempts 1") != std::string::npos);
}
