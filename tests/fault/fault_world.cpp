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

std::set<int64_t> id_set(const std::vector<int64_t>& v) {
  return {v.begin(), v.end()};
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

scenario_result fault_world::check(const std::string& scenario) const {
  scenario_result r;
  r.scenario = scenario;
  r.jobs = static_cast<int>(jobs_.size());
  auto c = connect(database_url_);
  pqxx::nontransaction tx{c};
  auto note = [&r](const std::string& text) { r.problems.push_back(text); };

  // Exactly-once markers, output attach rows and charges, by job.
  std::map<std::string, std::vector<std::pair<int64_t, std::string>>> markers;
  for (auto row : tx.exec("SELECT job_id::text, attach_id, object_key FROM quel_worker_image"))
    markers[row[0].as<std::string>()].emplace_back(row[1].as<int64_t>(),
                                                   row[2].as<std::string>());
  std::map<int64_t, std::pair<std::string, int64_t>> output_rows;  // id -> (key, size)
  for (auto row : tx.exec("SELECT attach_id, attach_file_path, coalesce(attach_file_size, -1)"
                          "  FROM quel_attach WHERE attach_file_path LIKE 'generated/%'"))
    output_rows[row[0].as<int64_t>()] = {row[1].as<std::string>(), row[2].as<int64_t>()};
  std::map<int64_t, int> charges_per_attach;
  std::map<std::string, int64_t> charged_per_org;
  std::map<std::string, int> charges_per_job;
  for (auto row : tx.exec("SELECT org_id::text, coalesce(job_id::text, ''), attach_id,"
                          " amount, reason FROM quel_credit_log ORDER BY log_id")) {
    auto amount = row[3].as<int64_t>();
    if (amount != -cost_per_image || row[4].as<std::string>() != "image_generation")
      note("credit log row with amount " + std::to_string(amount) + " reason "
           + row[4].as<std::string>());
    charged_per_org[row[0].as<std::string>()] -= amount;
    charges_per_job[row[1].as<std::string>()]++;
    if (!row[2].is_null())
      charges_per_attach[row[2].as<int64_t>()]++;
  }
  for (auto& [attach, n] : charges_per_attach)
    if (n > 1) {
      r.double_charged += n - 1;
      note("attach " + std::to_string(attach) + " charged " + std::to_string(n) + " times");
    }

  std::set<std::string> committed_keys;
  std::map<std::string, int64_t> made_per_org;
  for (auto& job : jobs_) {
    auto row = tx.exec_params1("SELECT job_status, total_images, completed_images,"
                               " failed_images, generated_attach_ids::text,"
                               " coalesce(error_message, ''),"
                               " (SELECT attach_ids::text FROM quel_production_photo p"
                               "   WHERE p.production_id = j.production_id)"
                               "  FROM quel_production_jobs j WHERE job_id = $1::uuid",
                               job.id);
    auto status = row[0].as<std::string>();
    auto total = row[1].as<int>();
    auto completed = row[2].as<int>();
    auto failed = row[3].as<int>();
    auto gen = nlohmann::json::parse(row[4].as<std::string>()).get<std::vector<int64_t>>();
    auto error = row[5].as<std::string>();
    auto production_ids =
      nlohmann::json::parse(row[6].as<std::string>()).get<std::vector<int64_t>>();
    const auto& mine = markers.count(job.id) ? markers.at(job.id)
                                             : std::vector<std::pair<int64_t, std::string>>{};
    auto made = static_cast<int>(mine.size());
    r.images += made;
    auto tag = "job " + job.id + ": ";

    if (status == "completed") {
      r.completed++;
      if (completed != job.images || total != job.images) {
        r.lost++;
        note(tag + "completed with " + std::to_string(completed) + "/" + std::to_string(total)
             + " images, expected " + std::to_string(job.images));
      }
    } else if (status == "failed") {
      if (error.find("quarantined") != std::string::npos) {
        r.quarantined++;
        r.quarantined_ids.push_back(job.id + " (" + std::to_string(made) + " images made)");
      } else {
        r.failed++;
        note(tag + "failed: " + error);
      }
      if (completed + failed != total)
        note(tag + "failed with completed + failed != total");
    } else {
      r.lost++;
      if (status == "processing")
        r.stuck++;
      note(tag + "left '" + status + "'");
    }

    // One attach row, one id, one marker per image made.
    std::vector<int64_t> marker_ids;
    for (auto& [id, key] : mine) {
      marker_ids.push_back(id);
      committed_keys.insert(key);
    }
    std::vector<int64_t> job_rows;
    for (auto& [id, kv] : output_rows)
      if (kv.first.rfind("generated/" + job.id + "/", 0) == 0)
        job_rows.push_back(id);
    if (completed != made) {
      (completed > made ? r.duplicated : r.lost) += std::abs(completed - made);
      note(tag + "completed_images " + std::to_string(completed) + " but "
           + std::to_string(made) + " images committed");
    }
    if (gen.size() != id_set(gen).size()) {
      r.duplicated += static_cast<int>(gen.size() - id_set(gen).size());
      note(tag + "generated_attach_ids has duplicates: " + row[4].as<std::string>());
    }
    if (id_set(gen) != id_set(marker_ids)) {
      r.duplicated++;
      note(tag + "generated_attach_ids " + row[4].as<std::string>()
           + " differ from the committed images");
    }
    if (job_rows.size() != static_cast<size_t>(made)) {
      r.duplicated += std::abs(static_cast<int>(job_rows.size()) - made);
      note(tag + std::to_string(job_rows.size()) + " output attach rows for "
           + std::to_string(made) + " images made");
    }
    if (id_set(job_rows) != id_set(marker_ids))
      note(tag + "output attach rows differ from the committed images");
    // The production lists each image once, after the id it already had.
    for (auto id : marker_ids) {
      auto n = std::count(production_ids.begin(), production_ids.end(), id);
      if (n != 1) {
        (n > 1 ? r.duplicated : r.lost)++;
        note(tag + "production lists attach " + std::to_string(id) + " "
             + std::to_string(n) + " times");
      }
    }
    if (production_ids.empty() || production_ids.front() != 1)
      note(tag + "production lost the id it already had");

    // Charges: one per image made when the job has an organisation.
    int expected_charges = job.org_id ? made : 0;
    if (charges_per_job[job.id] != expected_charges) {
      r.double_charged += std::abs(charges_per_job[job.id] - expected_charges);
      note(tag + std::to_string(charges_per_job[job.id]) + " charges for "
           + std::to_string(made) + " images made");
    }
    if (job.org_id)
      made_per_org[*job.org_id] += made;
  }

  // Balances: start - final = cost x images made, never negative.
  for (auto& [org, start] : starting_credit_) {
    auto now = tx.exec_params1("SELECT org_credit FROM quel_organization WHERE org_id = $1::uuid",
                               org)[0].as<int64_t>();
    if (now < 0)
      note("org " + org + " has a negative balance " + std::to_string(now));
    auto expected = cost_per_image * made_per_org[org];
    if (start - now != expected) {
      r.double_charged += static_cast<int>(std::abs(start - now - expected) / cost_per_image);
      note("org " + org + " paid " + std::to_string(start - now) + " for "
           + std::to_string(made_per_org[org]) + " images (expected "
           + std::to_string(expected) + ")");
    }
    if (charged_per_org[org] != start - now)
      note("org " + org + ": credit log sums to " + std::to_string(charged_per_org[org])
           + " but the balance moved by " + std::to_string(start - now));
  }

  // Storage: exactly the committed objects, each with the committed size.
  auto root = fs::path{storage_dir_} / "images";
  std::set<std::string> on_disk;
  if (fs::exists(root / "generated"))
    for (auto& e : fs::recursive_directory_iterator(root / "generated"))
      if (e.is_regular_file())
        on_disk.insert(fs::relative(e.path(), root).generic_string());
  for (auto& key : on_disk)
    if (committed_keys.count(key) == 0) {
      r.orphaned++;
      note("orphaned object " + key);
    }
  for (auto& [id, kv] : output_rows) {
    auto path = root / kv.first;
    if (!fs::is_regular_file(path)) {
      r.lost++;
      note("object of attach " + std::to_string(id) + " missing: " + kv.first);
    } else if (static_cast<int64_t>(fs::file_size(path)) != kv.second) {
      note("object " + kv.first + " has " + std::to_string(fs::file_size(path))
           + " bytes but its attach row says " + std::to_string(kv.second)
           + " (overwritten after its commit)");
    }
  }

  // Leftovers: holds, Redis lists, dead letters of jobs that exist.
  auto holds = tx.exec1("SELECT count(*) FROM quel_worker_credit_hold")[0].as<int>();
  if (holds > 0) {
    r.leftovers += holds;
    note(std::to_string(holds) + " credit holds left");
  }
  test_redis redis{redis_url_};
  for (auto& key : redis.keys("*")) {
    if (redis.command({"TYPE", key}) != "list")
      continue;
    auto n = redis.llen(key);
    if (n > 0) {
      r.leftovers += static_cast<int>(n);
      note("Redis list " + key + " holds " + std::to_string(n) + " entries");
    }
  }
  return r;
}

} // namespace quel::test
