// End-to-end: jobs that complete, run by the real binary against real Redis,
// PostgreSQL and local storage (CONTRACT.md sections 3, 4 and 6).
#include <algorithm>

#include <catch2/catch.hpp>

#include "domain/object_key.hpp"
#include "tests/integration/worker_checks.hpp"

using namespace quel::test;

namespace {

std::string id_text(int64_t id) { return std::to_string(id); }

// Realistic attach ids (the contract's examples are around 39070).
void start_attach_ids_at_39070(worker_harness& h) {
  query(h, "SELECT setval('quel_attach_attach_id_seq', 39069)");
}

} // namespace

TEST_CASE("a two-stage fashion job makes 2+2 webp images and charges each",
          "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  start_attach_ids_at_39070(h);
  auto org = h.db().create_org(100, "acme");
  auto model = h.add_input("inputs/acme/model.png", sample_image("png", 0), org);
  auto top = h.add_input("inputs/acme/top.jpg", sample_image("jpg", 1), org);
  auto shoes = h.add_input("inputs/acme/shoes.webp", sample_image("webp", 2), org);
  auto production = h.db().create_production(org);
  auto input = pipeline_json(
    {stage_json(0, "Stage 0 prompt text", 2,
                {attach_entry(id_text(model), "model"), attach_entry(id_text(top), "top")}),
     stage_json(1, "Stage 1 prompt text", 2,
                {attach_entry(id_text(model), "model"),
                 attach_entry(id_text(shoes), "shoes")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job);
  h.drain();

  check_completed(h, {job, org, production, {}, {{0, 2}, {1, 2}}, 1, 100});
  check_lists_empty(h);
  CHECK(h.db().count("SELECT count(*) FROM quel_attach") == h.inputs_created() + 4);
}

TEST_CASE("a single_batch beauty job on jobs:queue:beauty completes", "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(10, "glow");
  auto face = h.add_input("inputs/glow/face.webp", sample_image("webp", 3), org);
  auto product = h.add_input("inputs/glow/product.png", sample_image("png", 4), org);
  auto production = h.db().create_production(org);
  auto input = "{\"prompt\": \"Soft daylight beauty close-up\", \"quantity\": 3, "
               "\"individualImageAttachIds\": ["
               + attach_entry(id_text(face), "face") + ", "
               + attach_entry(id_text(product), "product") + "], \"aspectRatio\": \"1:1\"}";
  auto job = h.db().create_job(production, org, "single_batch", input);
  h.enqueue(job, "jobs:queue:beauty");
  h.drain();

  check_completed(h, {job, org, production, {}, {{0, 3}}, 1, 10});
  check_lists_empty(h);
}

TEST_CASE("attachId as a float 39070.0 and as a numeric string are accepted",
          "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  start_attach_ids_at_39070(h);
  auto org = h.db().create_org(10);
  auto model = h.add_input("inputs/model.png", sample_image("png", 0), org);
  auto top = h.add_input("inputs/top.jpg", sample_image("jpg", 1), org);
  REQUIRE(model == 39070);
  auto production = h.db().create_production(org);
  auto input = pipeline_json(
    {stage_json(0, "float id", 1, {attach_entry(id_text(model) + ".0", "model")}),
     stage_json(1, "string id", 1,
                {attach_entry("\"" + id_text(top) + "\"", "top"),
                 attach_entry(id_text(model) + ".0", "model")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job);
  h.drain();

  check_completed(h, {job, org, production, {}, {{0, 1}, {1, 1}}, 1, 10});
}

TEST_CASE("legacy attach rows keep their key in attach_directory", "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(10);
  auto null_path = h.add_legacy_input("legacy/2019/model.png", sample_image("png", 5),
                                      std::nullopt);
  auto empty_path = h.add_legacy_input("legacy/2019/top.jpg", sample_image("jpg", 6),
                                       std::string{});
  auto production = h.db().create_production(org);
  auto input = pipeline_json({stage_json(
    0, "legacy inputs", 2,
    {attach_entry(id_text(null_path), "model"), attach_entry(id_text(empty_path), "top")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job);
  h.drain();

  check_completed(h, {job, org, production, {}, {{0, 2}}, 1, 10});
}

TEST_CASE("a stage using fromStage runs after the image it needs is made",
          "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(10);
  auto model = h.add_input("inputs/model.png", sample_image("png", 0), org);
  auto top = h.add_input("inputs/top.jpg", sample_image("jpg", 1), org);
  auto shoes = h.add_input("inputs/shoes.png", sample_image("png", 2), org);
  auto production = h.db().create_production(org);
  // Listed out of order on purpose: the array's order does not matter (rule 6).
  auto input = pipeline_json(
    {stage_json(1, "put the shoes on the dressed model", 1,
                {from_stage_entry(0, 1, "model"), attach_entry(id_text(shoes), "shoes")}),
     stage_json(0, "dress the model", 2,
                {attach_entry(id_text(model), "model"), attach_entry(id_text(top), "top")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job);
  h.drain();

  check_completed(h, {job, org, production, {}, {{0, 2}, {1, 1}}, 1, 10});
  // generated_attach_ids grows in the order images are made (rule 22).
  auto generated = json_ids(job_row(h, job)["generated_attach_ids"]);
  auto id_of = [&](int s, int i) {
    return std::stoll(query_value(h, "SELECT attach_id FROM quel_attach WHERE "
                                     "attach_file_path = '"
                                     + quel::output_key(job, s, i, "webp") + "'")
                        .value_or("0"));
  };
  auto pos = [&](int64_t id) {
    return std::find(generated.begin(), generated.end(), id) - generated.begin();
  };
  CHECK(pos(id_of(0, 1)) < pos(id_of(1, 0)));
}

TEST_CASE("a job with org_id NULL completes and charges nobody", "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto model = h.add_input("inputs/model.png", sample_image("png", 0));
  auto production = h.db().create_production(std::nullopt);
  auto input = pipeline_json(
    {stage_json(0, "no organisation", 2, {attach_entry(id_text(model), "model")})});
  auto job = h.db().create_job(production, std::nullopt, "pipeline_stage", input);
  h.enqueue(job);
  h.drain();

  check_completed(h, {job, std::nullopt, production, {}, {{0, 2}}, 1, 0});
  CHECK(h.db().count("SELECT count(*) FROM quel_credit_log") == 0);
}

TEST_CASE("a production's existing attach_ids are kept before the new ones",
          "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  // Ids 1 and 2 are not rows the job could make, so none of them is a repeat.
  start_attach_ids_at_39070(h);
  auto org = h.db().create_org(10);
  auto model = h.add_input("inputs/model.png", sample_image("png", 0), org);
  auto production = h.db().create_production(org, "[1, 2]");
  auto input = pipeline_json(
    {stage_json(0, "first", 1, {attach_entry(id_text(model), "model")}),
     stage_json(1, "second", 2, {attach_entry(id_text(model), "model")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job);
  h.drain();

  check_completed(h, {job, org, production, {1, 2}, {{0, 1}, {1, 2}}, 1, 10});
}

TEST_CASE("QUEL_OUTPUT_FORMAT=png stores .png keys with PNG bytes", "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(10);
  auto model = h.add_input("inputs/model.jpg", sample_image("jpg", 0), org);
  auto production = h.db().create_production(org);
  auto input = pipeline_json(
    {stage_json(0, "png please", 2, {attach_entry(id_text(model), "model")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job);
  h.drain({{"QUEL_OUTPUT_FORMAT", "png"}});

  expected_run e{job, org, production, {}, {{0, 2}}, 1, 10};
  e.extension = "png";
  e.mime = "image/png";
  check_completed(h, e);
}

TEST_CASE("a cartoon job on jobs:queue:cartoon completes", "[e2e][pipeline]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(10);
  auto face = h.add_input("inputs/face.png", sample_image("png", 7), org);
  auto scene = h.add_input("inputs/scene.jpg", sample_image("jpg", 8), org);
  auto production = h.db().create_production(org);
  auto input = pipeline_json(
    {stage_json(0, "draw them in a comic panel", 2,
                {attach_entry(id_text(face), "face"),
                 attach_entry(id_text(scene), "background")})},
    "16:9");
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job, "jobs:queue:cartoon");
  h.drain();

  check_completed(h, {job, org, production, {}, {{0, 2}}, 1, 10});
  CHECK(h.redis().llen("jobs:queue:cartoon") == 0);
  check_lists_empty(h);
}
