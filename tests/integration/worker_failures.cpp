// End-to-end: jobs that run but cannot make every image (credits run out, an
// input object is missing) end `failed` with what was made kept and charged.
#include <catch2/catch.hpp>

#include "tests/integration/worker_checks.hpp"

using namespace quel::test;

TEST_CASE("credits running out stop at the balance and fail the job", "[e2e][credits]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto org = h.db().create_org(3, "poor");
  auto model = h.add_input("inputs/model.png", sample_image("png", 0), org);
  auto production = h.db().create_production(org);
  auto input = pipeline_json(
    {stage_json(0, "four looks", 4, {attach_entry(std::to_string(model), "model")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job);
  h.drain({{"QUEL_CREDITS_PER_IMAGE", "1"}});

  auto made = check_outputs(h, {job, org, production, {}, {{0, 4}}, 1, 3});
  auto row = job_row(h, job);
  INFO("error_message: " << row["error_message"].value_or("NULL"));
  CHECK(made.size() == 3);
  CHECK(row["job_status"] == std::optional<std::string>{"failed"});
  CHECK(row["completed_images"] == std::optional<std::string>{"3"});
  CHECK(row["failed_images"] == std::optional<std::string>{"1"});
  CHECK(contains_nocase(row["error_message"].value_or(""), "credit"));
  CHECK(h.db().org_credit(org) == 0);
  CHECK(h.db().count("SELECT count(*) FROM quel_credit_log") == 3);
  CHECK(h.db().count("SELECT count(*) FROM quel_organization WHERE org_credit < 0") == 0);
  check_lists_empty(h);
}

TEST_CASE("a missing input object fails its stage, naming the attach id",
          "[e2e][failures]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  // A distinctive id, so that an error naming it cannot match by accident.
  query(h, "SELECT setval('quel_attach_attach_id_seq', 39069)");
  auto org = h.db().create_org(20);
  auto model = h.add_input("inputs/model.png", sample_image("png", 0), org);
  // The row exists but its object was never uploaded.
  auto ghost = h.db().create_attach(std::string{"inputs/ghost.png"}, std::nullopt, org);
  h.note_input_row();
  auto production = h.db().create_production(org);
  auto input = pipeline_json(
    {stage_json(0, "needs the ghost", 2,
                {attach_entry(std::to_string(model), "model"),
                 attach_entry(std::to_string(ghost), "top")}),
     stage_json(1, "independent", 1, {attach_entry(std::to_string(model), "model")})});
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(job);
  h.drain();

  auto made = check_outputs(h, {job, org, production, {}, {{0, 2}, {1, 1}}, 1, 20});
  auto row = job_row(h, job);
  INFO("error_message: " << row["error_message"].value_or("NULL"));
  CHECK(row["job_status"] == std::optional<std::string>{"failed"});
  CHECK(contains_nocase(row["error_message"].value_or(""), std::to_string(ghost)));
  // Nothing of stage 0 was made or charged; stage 1 does not depend on it.
  CHECK(made == std::set<std::pair<int, int>>{{1, 0}});
  CHECK(row["failed_images"] == std::optional<std::string>{"2"});
  CHECK(h.db().org_credit(org) == 19);
  check_lists_empty(h);
}
