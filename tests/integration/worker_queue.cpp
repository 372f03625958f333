// End-to-end: queue handling (dead letters, duplicates, finished jobs) and the
// enqueue / status / migrate commands (CONTRACT.md sections 2, 7, rules 1-5).
#include <regex>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/worker_checks.hpp"

using namespace quel::test;

namespace {

struct simple_job {
  std::string job_id;
  std::string production_id;
  std::string org_id;
};

simple_job make_job(worker_harness& h, int64_t attach, int quantity,
                    const std::string& extra_fields = "") {
  auto org = h.db().create_org(20);
  auto production = h.db().create_production(org);
  auto input = "{" + extra_fields + "\"stages\": ["
               + stage_json(0, "queue test", quantity,
                            {attach_entry(std::to_string(attach), "model")})
               + "]}";
  auto job = h.db().create_job(production, org, "pipeline_stage", input);
  return {job, production, org};
}

void check_dead_letter(const std::string& entry, const std::string& id,
                       const std::string& queue) {
  INFO("dead letter: " << entry);
  auto j = nlohmann::json::parse(entry);
  REQUIRE(j.is_object());
  CHECK(j.size() == 4);
  CHECK(j.value("id", "") == id);
  CHECK(j.value("queue", "") == queue);
  REQUIRE(j.contains("reason"));
  CHECK(j["reason"].is_string());
  CHECK_FALSE(j["reason"].get<std::string>().empty());
  REQUIRE(j.contains("at"));
  static const std::regex iso_utc{
    R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00))"};
  CHECK(std::regex_match(j["at"].get<std::string>(), iso_utc));
}

} // namespace

TEST_CASE("ids with no job row are dead-lettered and the worker carries on",
          "[e2e][queue]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto model = h.add_input("inputs/model.png", sample_image("png", 0));
  const std::string unknown = "5d0c1a8e-8a43-4f43-9b0e-3f1f8f1f2b77";
  const std::string not_uuid = "not-a-uuid";
  h.enqueue(unknown, "jobs:queue:beauty");
  h.enqueue(not_uuid);
  auto real = make_job(h, model, 1);
  h.enqueue(real.job_id);
  h.drain();

  auto dead = h.redis().lrange("jobs:dead");
  REQUIRE(dead.size() == 2);
  std::map<std::string, std::string> by_id;
  for (auto& entry : dead)
    by_id[nlohmann::json::parse(entry).value("id", "")] = entry;
  REQUIRE(by_id.count(unknown) == 1);
  REQUIRE(by_id.count(not_uuid) == 1);
  check_dead_letter(by_id[unknown], unknown, "jobs:queue:beauty");
  check_dead_letter(by_id[not_uuid], not_uuid, "jobs:queue");

  check_completed(h, {real.job_id, real.org_id, real.production_id, {}, {{0, 1}}, 1, 20});
  check_lists_empty(h);
}

TEST_CASE("an id pushed twice is processed once", "[e2e][queue]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto model = h.add_input("inputs/model.png", sample_image("png", 0));
  auto job = make_job(h, model, 2);
  h.enqueue(job.job_id);
  h.enqueue(job.job_id);
  h.drain();

  check_completed(h, {job.job_id, job.org_id, job.production_id, {}, {{0, 2}}, 1, 20});
  CHECK(h.db().count("SELECT count(*) FROM quel_attach") == h.inputs_created() + 2);
  CHECK(h.redis().llen("jobs:queue") == 0);
  CHECK(h.redis().llen("jobs:dead") == 0);
  check_lists_empty(h);
}

TEST_CASE("a job already completed is dropped untouched", "[e2e][queue]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto model = h.add_input("inputs/model.png", sample_image("png", 0));
  auto job = make_job(h, model, 2);
  query(h, "UPDATE quel_production_jobs SET job_status = 'completed', total_images = 2,"
           " completed_images = 2, started_at = now() - interval '1 hour',"
           " completed_at = now() - interval '59 minutes',"
           " updated_at = now() - interval '59 minutes' WHERE job_id = '"
           + job.job_id + "'");
  query(h, "UPDATE quel_production_photo SET production_status = 'completed'"
           " WHERE production_id = '" + job.production_id + "'");
  auto before = job_row(h, job.job_id);
  h.enqueue(job.job_id);
  h.drain();

  CHECK(job_row(h, job.job_id) == before);
  CHECK(h.db().count("SELECT count(*) FROM quel_attach") == h.inputs_created());
  CHECK(h.db().count("SELECT count(*) FROM quel_credit_log") == 0);
  CHECK(h.db().org_credit(job.org_id) == 20);
  CHECK(h.output_objects().empty());
  CHECK(h.redis().llen("jobs:dead") == 0);
  check_lists_empty(h);
}

TEST_CASE("enqueue pushes onto the queue of --module, job_input_data.module or fashion",
          "[e2e][queue][cli]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto model = h.add_input("inputs/model.png", sample_image("png", 0));
  auto cartoon = make_job(h, model, 1);
  auto eats = make_job(h, model, 1, "\"module\": \"eats\", ");
  auto fashion = make_job(h, model, 1);

  auto r1 = h.run_worker({"enqueue", "--module", "cartoon", cartoon.job_id});
  INFO("enqueue stderr: " << r1.err);
  CHECK(r1.exit_code == 0);
  auto r2 = h.run_worker({"enqueue", eats.job_id, fashion.job_id});
  INFO("enqueue stderr: " << r2.err);
  CHECK(r2.exit_code == 0);

  CHECK(h.redis().lrange("jobs:queue:cartoon") == std::vector<std::string>{cartoon.job_id});
  CHECK(h.redis().lrange("jobs:queue:eats") == std::vector<std::string>{eats.job_id});
  CHECK(h.redis().lrange("jobs:queue") == std::vector<std::string>{fashion.job_id});

  h.drain();
  for (auto* j : {&cartoon, &eats, &fashion}) {
    INFO("job " << j->job_id);
    check_completed(h, {j->job_id, j->org_id, j->production_id, {}, {{0, 1}}, 1, 20});
  }
  check_lists_empty(h);
}

TEST_CASE("status shows queue depths and dead letters", "[e2e][cli]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  const std::string unknown = "0b9d7f4c-3c55-4a53-a2c4-6a0f1c0c9e11";
  h.enqueue(unknown);
  h.drain();
  REQUIRE(h.redis().llen("jobs:dead") == 1);
  auto model = h.add_input("inputs/model.png", sample_image("png", 0));
  auto waiting = make_job(h, model, 1);
  h.enqueue(waiting.job_id, "jobs:queue:cinema");

  auto r = h.run_worker({"status"}, {}, std::chrono::seconds{30});
  auto text = r.out + r.err;
  INFO("status output:\n" << text);
  CHECK(r.exit_code == 0);
  CHECK(text.find("jobs:queue") != std::string::npos);
  CHECK(text.find("jobs:queue:cinema") != std::string::npos);
  CHECK(text.find(unknown) != std::string::npos);
  CHECK(h.redis().llen("jobs:queue:cinema") == 1);
}

TEST_CASE("migrate can be run twice", "[e2e][cli]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto first = h.run_worker({"migrate"}, {}, std::chrono::seconds{60});
  INFO("first migrate stderr: " << first.err);
  CHECK(first.exit_code == 0);
  auto second = h.run_worker({"migrate"}, {}, std::chrono::seconds{60});
  INFO("second migrate stderr: " << second.err);
  CHECK(second.exit_code == 0);
  // The contract's tables are still there and usable.
  CHECK(h.db().count("SELECT count(*) FROM quel_production_jobs") == 0);
}
