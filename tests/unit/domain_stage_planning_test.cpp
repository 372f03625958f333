// Planning a stage from the job's spec and progress (domain/stage_planning).
#include <catch2/catch.hpp>

#include "domain/stage_planning.hpp"
#include "tests/unit/domain_parser_support.hpp"

using namespace quel;
using namespace quel::test;

namespace {

/// Stage 0 makes two images from attach 39070; stage 1 makes one from
/// stage 0's second image.
const char* two_stage_job = R"({"stages": [
  {"stage_index": 0, "prompt": "first", "quantity": 2,
   "individualImageAttachIds": [{"attachId": 39070, "type": "model"}]},
  {"stage_index": 1, "prompt": "second", "quantity": 1,
   "individualImageAttachIds": [{"fromStage": 0, "index": 1, "type": "model"}]}]})";

struct planning {
  claimed_job job;
  module_config module;
  job_progress progress{parse_ok("pipeline_stage", two_stage_job)};
  std::map<int64_t, std::string> input_keys{{39070, "in/39070.png"}};
  std::map<std::pair<int, int>, blob> outputs;

  planning() {
    job.job_id = ids::job{"00000000-0000-0000-0000-000000000001"};
    job.epoch = 7;
    job.attempts = 1;
    job.status = "pending";
    job.org_id = ids::org{"org"};
    module.name = "fashion";
    module.credits_per_image = 3;
    module.categories["model"] = "the person wearing the clothes";
  }

  planned_stage plan(int stage_index, bool restarted = false) {
    return plan_stage(job_facts{job, module, progress, input_keys, outputs},
                      *progress.spec().find_stage(stage_index), restarted);
  }
};

} // namespace

TEST_CASE("a stage's plan names its images, prompt and attached inputs",
          "[domain][planning]") {
  planning p;
  auto plan = p.plan(0);
  CHECK(plan.identity.job_id == p.job.job_id);
  CHECK(plan.identity.epoch == 7);
  CHECK(plan.identity.stage_index == 0);
  CHECK(plan.identity.cost == 3);
  CHECK(plan.quantity == 2);
  CHECK(plan.total_images == 3);
  CHECK(plan.largest_stage_index == 1);
  CHECK(plan.prompt.find("first") != std::string::npos);
  CHECK_FALSE(plan.resumed);
  CHECK(plan.already_made.empty());
  CHECK_FALSE(plan.doomed);
  REQUIRE(plan.inputs.size() == 1);
  CHECK(plan.inputs[0].attach_id == 39070);
  CHECK(plan.inputs[0].object_key == "in/39070.png");
  CHECK(plan.inputs[0].category == "model");
  CHECK(plan.inputs[0].description == "the person wearing the clothes");
}

TEST_CASE("a job without an organisation plans images that cost nothing",
          "[domain][planning]") {
  planning p;
  p.job.org_id.reset();
  CHECK(p.plan(0).identity.cost == 0);
}

TEST_CASE("a stage is resumed after a crash, a hand-back or its own restart",
          "[domain][planning]") {
  planning p;
  CHECK(p.plan(0, true).resumed);
  p.job.status = "processing";
  CHECK(p.plan(0).resumed);
  p.job.status = "pending";
  p.job.attempts = 2;
  CHECK(p.plan(0).resumed);
}

TEST_CASE("images already made are skipped", "[domain][planning]") {
  planning p;
  p.progress.mark_made(0, 1, 501, "out/1.webp");
  CHECK(p.plan(0).already_made == std::vector<int>{1});
}

TEST_CASE("a fromStage input uses the made image and its bytes in memory",
          "[domain][planning]") {
  planning p;
  p.progress.mark_made(0, 1, 501, "out/1.webp");
  p.outputs[{0, 1}] = blob{std::string("bytes")};
  auto plan = p.plan(1);
  CHECK_FALSE(plan.doomed);
  REQUIRE(plan.inputs.size() == 1);
  CHECK(plan.inputs[0].from_stage == 0);
  CHECK(plan.inputs[0].from_index == 1);
  CHECK_FALSE(plan.inputs[0].attach_id);
  CHECK(plan.inputs[0].object_key == "out/1.webp");
  CHECK(plan.inputs[0].preloaded.size() == 5);
}

TEST_CASE("a stage whose fromStage input was never made is doomed",
          "[domain][planning]") {
  planning p;
  p.progress.mark_made(0, 0, 500, "out/0.webp");  // not image 1
  auto plan = p.plan(1);
  REQUIRE(plan.doomed);
  CHECK(*plan.doomed == "input 0 (stage 0 image 1) was not made");
  CHECK(plan.inputs.empty());
}

TEST_CASE("a job's given-up images keep their attempts and reasons until made",
          "[domain][progress][attempts]") {
  job_progress progress{parse_ok("pipeline_stage", two_stage_job)};
  progress.mark_failed(0, 1, "model error (after 3 attempts)", 3);
  progress.mark_failed(1, 0, "stage gave up");  // attempts unknown
  progress.mark_failed(0, 0, "credits ran out", 0);
  progress.mark_made(0, 0, 41, "generated/x/s0-i0.webp");  // made after all
  auto failed = progress.failed_images();
  REQUIRE(failed.size() == 2);
  CHECK(failed[0].stage_index == 0);
  CHECK(failed[0].image_index == 1);
  CHECK(failed[0].attempts == std::optional<int>{3});
  CHECK(failed[0].reason == "model error (after 3 attempts)");
  CHECK(failed[1].stage_index == 1);
  CHECK(failed[1].attempts == std::nullopt);
  CHECK(progress.error_summary()->find("stage 0 image 1: model error") != std::string::npos);
}
