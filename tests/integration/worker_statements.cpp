// The real binary's PostgreSQL round trips per job and per image (issue 10:
// at most 6 per job, input attach rows read once; at most one commit call
// per image, fewer when commits are grouped), counted by pg_stat_statements
// (top-level statements only, so a function call is one round trip).
#include <string>

#include <catch2/catch.hpp>

#include "tests/integration/worker_checks.hpp"

using namespace quel::test;

namespace {

/// Calls of the worker's top-level statements whose text matches `like`,
/// in this test's database since the last reset.
int64_t calls(worker_harness& h, const std::string& like) {
  return h.db().count("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                      " WHERE dbid = (SELECT oid FROM pg_database"
                      "                WHERE datname = current_database())"
                      "   AND query LIKE '" + like + "'");
}

bool statements_counted(worker_harness& h) {
  auto loaded = query_value(h, "SHOW shared_preload_libraries");
  if (!loaded || loaded->find("pg_stat_statements") == std::string::npos) {
    WARN("pg_stat_statements is not preloaded in this PostgreSQL (scripts/local-services.sh "
         "loads it): statements not counted");
    return false;
  }
  h.db().exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  return true;
}

} // namespace

TEST_CASE("a job costs at most 6 round trips and an image at most one commit call",
          "[e2e][statements]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  if (!statements_counted(h))
    return;
  const int jobs = 4;
  const int images = jobs * 4;
  auto org = h.db().create_org(1000, "acme");
  auto model = h.add_input("inputs/acme/model.png", sample_image("png", 0), org);
  auto top = h.add_input("inputs/acme/top.jpg", sample_image("jpg", 1), org);
  auto shoes = h.add_input("inputs/acme/shoes.webp", sample_image("webp", 2), org);
  for (int j = 0; j < jobs; ++j) {
    auto input = pipeline_json(
      {stage_json(0, "Stage 0 prompt", 2,
                  {attach_entry(std::to_string(model), "model"),
                   attach_entry(std::to_string(top), "top")}),
       stage_json(1, "Stage 1 prompt", 2,
                  {attach_entry(std::to_string(model), "model"),
                   attach_entry(std::to_string(shoes), "shoes")})});
    h.enqueue(h.db().create_job(h.db().create_production(org), org, "pipeline_stage", input));
  }
  h.db().exec("SELECT pg_stat_statements_reset()");
  h.drain();
  CHECK(h.db().count("SELECT count(*) FROM quel_production_jobs WHERE job_status = 'completed'")
        == jobs);
  CHECK(h.db().org_credit(org) == 1000 - images);

  auto claim = calls(h, "%quel_worker_claim(%");
  auto attach = calls(h, "%FROM quel_attach WHERE attach_id = ANY%");
  auto start = calls(h, "%quel_worker_start(%");
  auto hold = calls(h, "%quel_worker_hold%");
  auto release = calls(h, "%DELETE FROM quel_worker_credit_hold%");
  auto finish = calls(h, "%quel_worker_finish(%");
  auto commit = calls(h, "%quel_worker_commit_image%");
  auto per_job = claim + attach + start + hold + release + finish;
  INFO("per job: claim " << claim << ", attach rows " << attach << ", start " << start
                         << ", hold " << hold << ", release " << release << ", finish "
                         << finish << "; commit calls " << commit << " for " << images
                         << " images");
  CHECK(claim == jobs);
  CHECK(attach == jobs);      // every stage's input attach rows in one read per job
  CHECK(start == jobs);
  CHECK(hold == 2 * jobs);    // one hold per stage, none per image
  CHECK(release == 0);        // every held image was made
  CHECK(finish == jobs);
  CHECK(per_job <= 6 * jobs);
  CHECK(commit >= 1);
  CHECK(commit <= images);    // grouped commits make it fewer
}
