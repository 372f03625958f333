// End-to-end: the operator commands of docs/OPERATIONS.md against real Redis,
// PostgreSQL and the worker binary: status of a running job, retry, cancel,
// pause/resume across two workers, config sources and masking, --version
// and help.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "tests/integration/worker_checks.hpp"
#include "tests/integration/worker_http_support.hpp"
#include "tests/integration/worker_status_support.hpp"

using namespace quel::test;
using json = nlohmann::json;

namespace {

/// A worker that makes one image at a time, slowly enough to be watched.
env_map slow_env(worker_harness& h, const std::string& node, int latency_ms) {
  return h.worker_env({{"QUEL_NODE_ID", node},
                       {"QUEL_HTTP_ADDR", "off"},
                       {"QUEL_MAX_INFLIGHT_IMAGES", "1"},
                       {"QUEL_GENERATOR_LOCAL_LATENCY_MS", std::to_string(latency_ms)}});
}

/// A job of `stages` stages of `per_stage` images each on a fresh org.
struct seeded_job {
  std::string org, production, job;
};

seeded_job seed_job(worker_harness& h, int64_t credits, int stages, int per_stage) {
  seeded_job s;
  s.org = h.db().create_org(credits);
  auto model = h.add_input("inputs/model-" + s.org + ".png", sample_image("png", 0), s.org);
  s.production = h.db().create_production(s.org);
  std::vector<std::string> parts;
  for (int i = 0; i < stages; ++i)
    parts.push_back(stage_json(i, "look " + std::to_string(i), per_stage,
                               {attach_entry(std::to_string(model), "model")}));
  s.job = h.db().create_job(s.production, s.org, "pipeline_stage", pipeline_json(parts));
  return s;
}

int64_t count_for(worker_harness& h, const std::string& table, const std::string& job) {
  return h.db().count("SELECT count(*) FROM " + table + " WHERE job_id = '" + job + "'");
}

} // namespace

TEST_CASE("status --json and status JOB_ID show a running job's progress",
          "[e2e][ops][status]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto s = seed_job(h, 50, 2, 2);
  h.enqueue(s.job);
  // An id on a queue nobody serves here, to show the oldest id's age.
  auto waiting = seed_job(h, 5, 1, 1);
  h.enqueue(waiting.job, "jobs:queue:beauty");

  background_worker w({"run", "--worker.modules=fashion"}, slow_env(h, "node-a", 700));
  json job, last;
  bool seen = eventually([&] {
    last = status_json(h);
    for (auto& j : last["jobs_in_flight"])
      if (j["job_id"] == s.job && j["completed_images"].get<int>() >= 1) {
        job = j;
        return true;
      }
    return false;
  });
  if (!seen)
    FAIL("last status: " << last.dump() << "\nworker log:\n" << w.log());
  INFO(job.dump());
  CHECK(job["module"] == "fashion");
  CHECK(job["queue"] == "jobs:queue");
  CHECK(job["total_images"] == 4);
  CHECK(job["stages_total"] == 2);
  CHECK(job["node"] == "node-a");
  CHECK(job["lease_live"] == true);
  CHECK(job["running_seconds"].is_number());

  auto doc = status_json(h);
  json beauty;
  for (auto& q : doc["queues"])
    if (q["queue"] == "jobs:queue:beauty")
      beauty = q;
  CHECK(beauty["waiting"] == 1);
  CHECK(beauty["oldest_id"] == waiting.job);
  REQUIRE(beauty["oldest_age_seconds"].is_number());
  CHECK(beauty["oldest_age_seconds"].get<double>() >= 0);
  bool node_listed = false;
  for (auto& n : doc["nodes"])
    if (n["node"] == "node-a")
      node_listed = n["alive"] == true;
  CHECK(node_listed);

  // The text form: one line per job with its bar, counts, stage and node.
  auto text = h.run_worker({"status"}, {}, std::chrono::seconds{30});
  INFO(text.out);
  CHECK(text.out.find("fashion") != std::string::npos);
  CHECK(text.out.find(s.job.substr(0, 8)) != std::string::npos);
  CHECK(text.out.find("/4 stage ") != std::string::npos);
  CHECK(text.out.find("node-a") != std::string::npos);

  // One job: its made images with attach id and key, and their charges.
  auto one = status_json(h, {s.job});
  INFO(one.dump());
  CHECK(one["status"] == "processing");
  REQUIRE(one["stages"].size() == 2);
  // The two stages are independent and run side by side: any image may be
  // the first one made.
  int made = 0;
  for (auto& stage : one["stages"])
    for (auto& img : stage["images"])
      if (img["outcome"] == "made") {
        ++made;
        CHECK(img["attach_id"].is_number());
        CHECK(img["object_key"].get<std::string>().find(s.job) != std::string::npos);
      }
  CHECK(made >= 1);
  // The row is read before the credit log: an image may commit in between.
  CHECK(one["credit_log"].size() >= static_cast<size_t>(one["completed_images"].get<int>()));
  CHECK(one["worker"]["node"] == "node-a");

  REQUIRE(w.stop() == 0);
  auto done = status_json(h, {s.job});
  CHECK(done["status"] == "completed");
  CHECK(done["credit_log"].size() == 4);
  for (auto& stage : done["stages"])
    for (auto& img : stage["images"])
      CHECK(img["outcome"] == "made");
  auto text_one = h.run_worker({"status", s.job}, {}, std::chrono::seconds{30});
  CHECK(text_one.exit_code == 0);
  CHECK(text_one.out.find("credit log: 4 rows") != std::string::npos);
  CHECK(h.run_worker({"status", "not-a-job"}).exit_code == 1);
}

TEST_CASE("retry of a failed job makes only its missing images and charges only them",
          "[e2e][ops][retry]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  // Credits for 2 of 4 images: the first run makes 2 and fails.
  auto s = seed_job(h, 2, 1, 4);
  h.enqueue(s.job);
  h.drain();
  auto first = job_row(h, s.job);
  REQUIRE(first["job_status"] == std::optional<std::string>{"failed"});
  REQUIRE(first["completed_images"] == std::optional<std::string>{"2"});
  auto made_before = query(h, "SELECT attach_id FROM quel_worker_image WHERE job_id = '"
                                + s.job + "' ORDER BY attach_id");
  REQUIRE(made_before.size() == 2);

  // A job that is not failed is refused.
  auto other = seed_job(h, 5, 1, 1);
  CHECK(h.run_worker({"retry", other.job}).exit_code == 1);

  h.db().exec("UPDATE quel_organization SET org_credit = 10 WHERE org_id = '" + s.org + "'");
  auto r = h.run_worker({"retry", s.job});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("retrying " + s.job + " on jobs:queue") != std::string::npos);
  CHECK(h.redis().llen("jobs:queue") == 1);
  CHECK(job_row(h, s.job)["job_status"] == std::optional<std::string>{"pending"});
  h.drain();

  auto row = job_row(h, s.job);
  INFO("error_message: " << row["error_message"].value_or("NULL"));
  CHECK(row["job_status"] == std::optional<std::string>{"completed"});
  CHECK(row["completed_images"] == std::optional<std::string>{"4"});
  CHECK(row["failed_images"] == std::optional<std::string>{"0"});
  CHECK_FALSE(row["error_message"].has_value());
  // The two images of the first run are the same rows; two new ones joined.
  auto made_after = query(h, "SELECT attach_id FROM quel_worker_image WHERE job_id = '"
                               + s.job + "' ORDER BY attach_id");
  REQUIRE(made_after.size() == 4);
  CHECK(made_after[0] == made_before[0]);
  CHECK(made_after[1] == made_before[1]);
  // Charged once per image: 2 before the retry, 2 after, from 10.
  CHECK(count_for(h, "quel_credit_log", s.job) == 4);
  CHECK(h.db().count("SELECT count(DISTINCT attach_id) FROM quel_credit_log WHERE job_id = '"
                     + s.job + "'") == 4);
  CHECK(h.db().org_credit(s.org) == 8);
  CHECK(h.output_objects().size() == 4);
  CHECK(json_ids(row["generated_attach_ids"]).size() == 4);
  CHECK(count_for(h, "quel_worker_credit_hold", s.job) == 0);
  check_lists_empty(h);
}

TEST_CASE("cancel of a running job stops it with no hold and no charge for unmade images",
          "[e2e][ops][cancel]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto s = seed_job(h, 100, 1, 8);
  h.enqueue(s.job);
  background_worker w({"run"}, slow_env(h, "node-a", 600));
  REQUIRE(eventually([&] {
    return h.db().count("SELECT completed_images FROM quel_production_jobs WHERE job_id = '"
                        + s.job + "'") >= 1;
  }));
  auto r = h.run_worker({"cancel", "--timeout", "30", s.job});
  INFO(r.out << r.err << "\nworker log:\n" << w.log());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("cancel requested for " + s.job + " (running on node-a)") != std::string::npos);

  auto row = job_row(h, s.job);
  auto made = std::stoi(row["completed_images"].value_or("0"));
  CHECK(row["job_status"] == std::optional<std::string>{"failed"});
  CHECK(row["error_message"].value_or("").rfind("cancelled", 0) == 0);
  CHECK(made >= 1);
  CHECK(made < 8);
  CHECK(row["failed_images"] == std::optional<std::string>{std::to_string(8 - made)});
  CHECK_FALSE(row["completed_at"] == std::nullopt);
  // Every image made is charged once, nothing else is, and no hold is left.
  CHECK(count_for(h, "quel_worker_credit_hold", s.job) == 0);
  CHECK(count_for(h, "quel_worker_image", s.job) == made);
  CHECK(count_for(h, "quel_credit_log", s.job) == made);
  CHECK(h.db().org_credit(s.org) == 100 - made);
  CHECK(h.output_objects().size() == static_cast<size_t>(made));
  CHECK(query_value(h, "SELECT production_status FROM quel_production_photo WHERE "
                       "production_id = '" + s.production + "'")
        == std::optional<std::string>{"failed"});

  // Nothing more happens to it, and the worker carries on with other jobs.
  std::this_thread::sleep_for(std::chrono::seconds{2});
  CHECK(count_for(h, "quel_worker_image", s.job) == made);
  auto next = seed_job(h, 5, 1, 1);
  h.enqueue(next.job);
  CHECK(eventually([&] {
    return job_row(h, next.job)["job_status"] == std::optional<std::string>{"completed"};
  }));
  CHECK(w.stop() == 0);
}

TEST_CASE("cancel of a pending job ends it at once, and a finished job is left alone",
          "[e2e][ops][cancel]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto s = seed_job(h, 10, 1, 2);
  h.enqueue(s.job);
  auto r = h.run_worker({"cancel", s.job});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "cancelled " + s.job + "\n");
  auto row = job_row(h, s.job);
  CHECK(row["job_status"] == std::optional<std::string>{"failed"});
  CHECK(row["error_message"] == std::optional<std::string>{"cancelled"});
  // A worker that takes the id drops it: the job is finished.
  h.drain();
  CHECK(h.db().count("SELECT count(*) FROM quel_worker_image") == 0);
  CHECK(h.db().org_credit(s.org) == 10);
  CHECK(h.run_worker({"cancel", s.job}).exit_code == 1);
  check_lists_empty(h);
}

TEST_CASE("pause stops every worker taking from a queue and resume restarts them",
          "[e2e][ops][pause]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  background_worker a({"run"}, slow_env(h, "node-a", 0));
  background_worker b({"run"}, slow_env(h, "node-b", 0));
  auto r = h.run_worker({"pause", "fashion"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "paused jobs:queue\n");
  CHECK(status_json(h)["queues"][0]["paused"] == true);
  // Within a second every taker has looked (worker.take_timeout is 1 s).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::vector<seeded_job> jobs;
  for (int i = 0; i < 3; ++i) {
    jobs.push_back(seed_job(h, 5, 1, 1));
    h.enqueue(jobs.back().job);
  }
  // Another module's queue is not paused.
  auto beauty = seed_job(h, 5, 1, 1);
  h.enqueue(beauty.job, "jobs:queue:beauty");
  CHECK(eventually([&] {
    return job_row(h, beauty.job)["job_status"] == std::optional<std::string>{"completed"};
  }));
  std::this_thread::sleep_for(std::chrono::seconds{2});
  CHECK(h.redis().llen("jobs:queue") == 3);
  for (auto& j : jobs)
    CHECK(job_row(h, j.job)["job_status"] == std::optional<std::string>{"pending"});

  REQUIRE(h.run_worker({"resume", "jobs:queue"}).exit_code == 0);
  for (auto& j : jobs)
    CHECK(eventually([&] {
      return job_row(h, j.job)["job_status"] == std::optional<std::string>{"completed"};
    }));
  CHECK(status_json(h)["queues"][0]["paused"] == false);
  CHECK(a.stop() == 0);
  CHECK(b.stop() == 0);
  // Both logged the pause: each node obeyed it, not only one.
  CHECK(a.log().find("Queue paused") != std::string::npos);
  CHECK(b.log().find("Queue paused") != std::string::npos);
}

TEST_CASE("config prints each value's source and masks secrets", "[e2e][ops][config]") {
  auto dir = make_temp_dir("quel-config-");
  auto ini = dir + "/worker.ini";
  std::ofstream(ini) << "[log]\nlevel = debug\n";
  auto modules = dir + "/modules.ini";
  std::ofstream(modules) << "[module.fashion]\nqueue = jobs:queue\ncredits_per_image = 2\n"
                            "preamble = p\n";
  env_map env{{"PATH", "/usr/bin:/bin"},
              {"QUEL_REDIS_URL", "redis://:Sup3rSecretRedis@127.0.0.1:6390/0"},
              {"QUEL_DATABASE_URL", "postgresql://u:Pg5ecretWord@127.0.0.1:1/db"},
              {"QUEL_GEMINI_API_KEY", "AIzaSyTopSecretGeminiKey"},
              {"QUEL_HTTP_ADMIN_TOKEN", "DashboardAdminT0ken"},
              {"QUEL_MODULES_FILE", modules}};
  auto r = run_process({worker_binary(), "config", "--config=" + ini, "--worker.max_jobs=7"},
                       env, std::chrono::seconds{10});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto line_of = [&](const std::string& key) {
    auto at = r.out.find("\n" + key + " ");
    if (at == std::string::npos)
      return std::string{};
    return r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
  };
  CHECK(line_of("log.level").find("debug") != std::string::npos);
  CHECK(line_of("log.level").find("file " + ini) != std::string::npos);
  CHECK(line_of("worker.max_jobs").find("option --worker.max_jobs") != std::string::npos);
  CHECK(line_of("redis.url").find("environment QUEL_REDIS_URL") != std::string::npos);
  CHECK(line_of("storage.bucket").find("default") != std::string::npos);
  // Local objects are synced to disk unless an operator turns it off.
  CHECK(line_of("storage.local_sync").find("true") != std::string::npos);
  CHECK(line_of("storage.local_sync").find("default") != std::string::npos);
  CHECK(line_of("worker.modules_file").find("environment QUEL_MODULES_FILE")
        != std::string::npos);
  CHECK(line_of("generator.gemini_api_key").find("***") != std::string::npos);
  CHECK(line_of("http.admin_token").find("***") != std::string::npos);
  CHECK(line_of("http.admin_token").find("environment QUEL_HTTP_ADMIN_TOKEN")
        != std::string::npos);
  CHECK(r.out.find("modules served: fashion\n") != std::string::npos);
  for (auto* secret : {"Sup3rSecretRedis", "Pg5ecretWord", "AIzaSyTopSecretGeminiKey",
                       "DashboardAdminT0ken"}) {
    CHECK(r.out.find(secret) == std::string::npos);
    CHECK(r.err.find(secret) == std::string::npos);
  }

  // --modules=PATH (advertised by config/modules.ini) works as an option;
  // --json prints one document.
  env.erase("QUEL_MODULES_FILE");
  auto j = run_process({worker_binary(), "config", "--json", "--modules=" + modules}, env,
                       std::chrono::seconds{10});
  REQUIRE(j.exit_code == 0);
  auto doc = json::parse(j.out, nullptr, false);
  REQUIRE(doc.is_object());
  CHECK(doc["worker.modules_file"]["source"] == "option");
  CHECK(doc["worker.modules_file"]["value"] == modules);
  CHECK(doc["redis.url"]["source"] == "environment");
  CHECK(j.out.find("Sup3rSecretRedis") == std::string::npos);
}

TEST_CASE("the binary prints its version and per-command help", "[e2e][ops][cli]") {
  env_map env{{"PATH", "/usr/bin:/bin"}};
  auto v = run_process({worker_binary(), "--version"}, env, std::chrono::seconds{10});
  CHECK(v.exit_code == 0);
  CHECK(v.out.rfind("quel-worker ", 0) == 0);
  CHECK(v.out.find("\ncommit ") != std::string::npos);
  CHECK(v.out.find("\nbuild ") != std::string::npos);

  auto help = run_process({worker_binary(), "help", "status"}, env, std::chrono::seconds{10});
  CHECK(help.exit_code == 0);
  CHECK(help.out.rfind("usage: quel-worker status", 0) == 0);
  CHECK(help.out.find("--watch") != std::string::npos);

  auto flag = run_process({worker_binary(), "cancel", "--help"}, env, std::chrono::seconds{10});
  CHECK(flag.exit_code == 0);
  CHECK(flag.out.rfind("usage: quel-worker cancel", 0) == 0);

  auto unknown = run_process({worker_binary(), "help", "frobnicate"}, env,
                             std::chrono::seconds{10});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("no command \"frobnicate\"") != std::string::npos);
}
