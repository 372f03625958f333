// The fault suite's invariant check (fault_world::check): after a scenario,
// every job finished once, every image made once, stored once and charged
// once, credits exact, nothing left in Redis lists or holds. Kept apart from
// fault_world.cpp, which builds the world and drives it.
#include "tests/fault/fault_world.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "adapters/postgres/pg_connection.hpp"
#include "tests/support/test_redis.hpp"

namespace fs = std::filesystem;

namespace quel::test {

namespace {

std::set<int64_t> id_set(const std::vector<int64_t>& v) {
  return {v.begin(), v.end()};
}

} // namespace

scenario_result fault_world::check(const std::string& scenario) const {
  scenario_result r;
  r.scenario = scenario;
  r.jobs = static_cast<int>(jobs_.size());
  // A fresh connection, so that the check survives server restarts.
  pqxx::connection c{pg_connection::with_connect_timeout(database_url_)};
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
