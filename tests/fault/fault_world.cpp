#include "tests/fault/fault_world.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "adapters/postgres/migrations.hpp"
#include "adapters/postgres/pg_connection.hpp"
#include "tests/support/process_env.hpp"
#include "tests/support/test_redis.hpp"
#include "tests/support/worker_schema.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace quel::test {

namespace {

// A fresh connection per call, so that the check survives server restarts.
pqxx::connection connect(const std::string& url) {
  return pqxx::connection{pg_connection::with_connect_timeout(url)};
}

} // namespace

fault_world::fault_world(std::string name, std::string redis_url, std::string database_url)
    : name_(std::move(name)), redis_url_(std::move(redis_url)),
      database_url_(std::move(database_url)) {
  if (database_url_.empty()) {
    shared_db_ = std::make_unique<test_database>();
    database_url_ = shared_db_->url();
  } else {
    auto c = connect(database_url_);
    install_worker_schema(c, database_url_);
  }
  if (redis_url_.empty()) {
    test_redis shared; // flushes the shared test database
    redis_url_ = test_redis_url();
  }
  dir_ = make_temp_dir("quel-fault-" + name_ + "-");
  storage_dir_ = dir_ + "/storage";
  fs::create_directories(storage_dir_ + "/images");
}

fault_world::~fault_world() {
  // Logs stay when QUEL_FAULT_KEEP is set (investigating a failure).
  if (std::getenv("QUEL_FAULT_KEEP") == nullptr) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  } else {
    std::cout << "fault suite: kept " << dir_ << "\n";
  }
}

std::string fault_world::log_path(const std::string& name) const {
  return dir_ + "/" + name + ".log";
}

void fault_world::create_orgs(int n, int64_t credits) {
  auto c = connect(database_url_);
  pqxx::nontransaction tx{c};
  for (int i = 0; i < n; ++i) {
    auto id = tx.exec_params1("INSERT INTO quel_organization (org_name, org_credit)"
                              " VALUES ($1, $2) RETURNING org_id::text",
                              "fault-org-" + std::to_string(i), credits)[0]
                .as<std::string>();
    orgs_.push_back(id);
    starting_credit_[id] = credits;
  }
}

void fault_world::create_inputs(int n) {
  auto c = connect(database_url_);
  pqxx::nontransaction tx{c};
  for (int i = 0; i < n; ++i) {
    auto key = "inputs/fault-" + std::to_string(i) + ".png";
    auto path = fs::path{storage_dir_} / "images" / key;
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    auto& bytes = sample_image("png", i);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
    inputs_.push_back(tx.exec_params1("INSERT INTO quel_attach (attach_file_path,"
                                      " attach_file_type, attach_file_size)"
                                      " VALUES ($1, 'image/png', $2) RETURNING attach_id",
                                      key, static_cast<int64_t>(bytes.size()))[0]
                        .as<int64_t>());
  }
}

const world_job& fault_world::add_job(int n) {
  REQUIRE(inputs_.size() >= 2);
  REQUIRE(!orgs_.empty());
  world_job job;
  job.queue = n % 3 == 2 ? "jobs:queue:beauty" : "jobs:queue";
  if (n % 10 != 9)
    job.org_id = orgs_[static_cast<size_t>(n) % orgs_.size()];
  job.images = 4;
  auto a = std::to_string(inputs_[static_cast<size_t>(n) % inputs_.size()]);
  auto b = std::to_string(inputs_[static_cast<size_t>(n + 1) % inputs_.size()]);
  std::string type, input;
  if (n % 2 == 0) {
    type = "single_batch";
    input = "{\"prompt\": \"fault suite job " + std::to_string(n) + "\", \"quantity\": 4,"
            " \"individualImageAttachIds\": [" + attach_entry(a + ".0", "model") + ", "
            + attach_entry("\"" + b + "\"", "top") + "], \"aspectRatio\": \"1:1\"}";
  } else {
    input = pipeline_json(
      {stage_json(0, "fault suite job " + std::to_string(n) + " stage 0", 2,
                  {attach_entry(a, "model")}),
       stage_json(1, "fault suite job " + std::to_string(n) + " stage 1", 2,
                  {from_stage_entry(0, 1, "model"), attach_entry(b, "shoes")})});
    type = "pipeline_stage";
  }
  auto c = connect(database_url_);
  pqxx::nontransaction tx{c};
  auto production = tx.exec_params1("INSERT INTO quel_production_photo (org_id, attach_ids)"
                                    " VALUES ($1::uuid, '[1]'::jsonb)"
                                    " RETURNING production_id::text",
                                    job.org_id)[0].as<std::string>();
  job.id = tx.exec_params1("INSERT INTO quel_production_jobs (production_id, org_id,"
                           " job_type, job_input_data) VALUES ($1::uuid, $2::uuid, $3,"
                           " $4::jsonb) RETURNING job_id::text",
                           production, job.org_id, type, input)[0].as<std::string>();
  jobs_.push_back(job);
  return jobs_.back();
}

void fault_world::enqueue(const world_job& job) {
  test_redis r{redis_url_};
  r.lpush(job.queue, job.id);
  enqueued_.push_back(job.id);
}

const world_job& fault_world::enqueue_new_job() {
  const auto& job = add_job(static_cast<int>(jobs_.size()));
  enqueue(job);
  return job;
}

env_map fault_world::worker_env(const std::string& node, const env_map& extra) const {
  auto env = local_worker_env(redis_url_, database_url_, storage_dir_);
  env["QUEL_NODE_ID"] = node;
  env["QUEL_CREDITS_PER_IMAGE"] = std::to_string(cost_per_image);
  env["QUEL_MISSING_JOB_RECHECK_SECONDS"] = "0.5";
  env["QUEL_GENERATOR_LOCAL_LATENCY_MS"] = "100";
  // Retries of transient failures should not dominate the suite's time.
  env["QUEL_RETRY_BASE_MS"] = "100";
  env["QUEL_RETRY_CAP_MS"] = "2000";
  for (auto& [k, v] : extra)
    env[k] = v;
  return env;
}

std::unique_ptr<fault_process> fault_world::start_worker(const std::string& node,
                                                         const std::vector<std::string>& args,
                                                         const env_map& extra) {
  auto bin = worker_binary();
  INFO("worker binary " << bin);
  REQUIRE(::access(bin.c_str(), X_OK) == 0);
  std::vector<std::string> argv{bin};
  argv.insert(argv.end(), args.begin(), args.end());
  auto log = log_path("worker-" + std::to_string(++workers_started_) + "-" + node);
  return std::make_unique<fault_process>(argv, worker_env(node, extra), log);
}

int fault_world::unfinished_jobs() const {
  try {
    auto c = connect(database_url_);
    pqxx::nontransaction tx{c};
    std::vector<std::string> ids;
    for (auto& j : jobs_)
      ids.push_back(j.id);
    std::string list = "{";
    for (size_t i = 0; i < ids.size(); ++i)
      list += (i ? "," : "") + ids[i];
    list += "}";
    return tx.exec_params1("SELECT count(*) FROM quel_production_jobs"
                           " WHERE job_id = ANY($1::uuid[])"
                           "   AND job_status NOT IN ('completed', 'failed')",
                           list)[0].as<int>();
  } catch (const std::exception&) {
    return -1;
  }
}

std::string job_census::describe() const {
  if (!ok)
    return "PostgreSQL did not answer";
  return "waiting " + std::to_string(waiting) + ", processing " + std::to_string(processing)
         + ", finished " + std::to_string(finished);
}

job_census fault_world::census() const {
  job_census c;
  try {
    auto conn = connect(database_url_);
    pqxx::nontransaction tx{conn};
    std::string list = "{";
    for (size_t i = 0; i < enqueued_.size(); ++i)
      list += (i ? "," : "") + enqueued_[i];
    list += "}";
    for (auto row : tx.exec_params("SELECT job_id::text, job_status FROM quel_production_jobs"
                                   " WHERE job_id = ANY($1::uuid[])",
                                   list)) {
      auto status = row[1].as<std::string>();
      if (status == "pending") {
        c.waiting++;
      } else if (status == "processing") {
        c.processing++;
        c.processing_ids.insert(row[0].as<std::string>());
      } else {
        c.finished++;
      }
    }
    c.ok = true;
  } catch (const std::exception&) {
    c = job_census{};
  }
  return c;
}

job_census fault_world::keep_busy_until(int outstanding, int job_limit,
                                        const std::function<bool(const job_census&)>& ready,
                                        std::chrono::milliseconds timeout, bool& met) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto last = census();
    if (last.ok) {
      if (ready(last)) {
        met = true;
        return last;
      }
      for (int n = last.waiting + last.processing;
           n < outstanding && static_cast<int>(jobs_.size()) < job_limit; ++n)
        enqueue_new_job();
    }
    if (std::chrono::steady_clock::now() >= until) {
      met = false;
      return last;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool fault_world::wait_all_finished(std::chrono::seconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (unfinished_jobs() == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return false;
}

} // namespace quel::test
