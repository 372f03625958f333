#include "tests/integration/worker_checks.hpp"

#include <algorithm>
#include <map>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "domain/object_key.hpp"

namespace quel::test {

namespace {

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += '\'';
    out += c;
  }
  return out + "'";
}

std::vector<std::string> split_path(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    auto slash = key.find('/', start);
    parts.push_back(key.substr(start, slash - start));
    if (slash == std::string::npos)
      return parts;
    start = slash + 1;
  }
}

int64_t to_i64(const std::optional<std::string>& v) {
  REQUIRE(v.has_value());
  return std::stoll(*v);
}

} // namespace

std::vector<sql_row> query(worker_harness& h, const std::string& sql) {
  pqxx::nontransaction tx{h.db().conn()};
  auto res = tx.exec(sql);
  std::vector<sql_row> rows;
  for (const auto& r : res) {
    sql_row row;
    for (const auto& f : r)
      row.push_back(f.is_null() ? std::nullopt
                                : std::optional<std::string>{f.c_str()});
    rows.push_back(std::move(row));
  }
  return rows;
}

std::optional<std::string> query_value(worker_harness& h, const std::string& sql) {
  auto rows = query(h, sql);
  INFO(sql);
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].size() == 1);
  return rows[0][0];
}

std::map<std::string, std::optional<std::string>> job_row(worker_harness& h,
                                                         const std::string& job_id) {
  pqxx::nontransaction tx{h.db().conn()};
  auto res = tx.exec("SELECT * FROM quel_production_jobs WHERE job_id = "
                     + quoted(job_id));
  INFO("job " << job_id);
  REQUIRE(res.size() == 1);
  std::map<std::string, std::optional<std::string>> row;
  for (const auto& f : res[0])
    row[f.name()] = f.is_null() ? std::nullopt : std::optional<std::string>{f.c_str()};
  return row;
}

std::vector<int64_t> json_ids(const std::optional<std::string>& text) {
  REQUIRE(text.has_value());
  auto j = nlohmann::json::parse(*text);
  REQUIRE(j.is_array());
  std::vector<int64_t> ids;
  for (auto& v : j) {
    INFO("id " << v.dump());
    REQUIRE(v.is_number_integer());
    ids.push_back(v.get<int64_t>());
  }
  return ids;
}

bool bytes_are(const std::string& bytes, const std::string& mime) {
  if (mime == "image/webp")
    return bytes.size() >= 12 && bytes.compare(0, 4, "RIFF") == 0
           && bytes.compare(8, 4, "WEBP") == 0;
  if (mime == "image/png")
    return bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
  if (mime == "image/jpeg")
    return bytes.size() >= 3 && bytes.compare(0, 3, "\xff\xd8\xff") == 0;
  return false;
}

std::set<std::pair<int, int>> check_outputs(worker_harness& h, const expected_run& e) {
  auto job = job_row(h, e.job_id);
  INFO("job " << e.job_id << " status=" << job["job_status"].value_or("NULL")
               << " error=" << job["error_message"].value_or("NULL"));

  int total = 0;
  std::map<std::string, std::pair<int, int>> slot_of_key;
  for (auto [stage, quantity] : e.stages) {
    total += quantity;
    for (int i = 0; i < quantity; ++i)
      slot_of_key[output_key(e.job_id, stage, i, e.extension)] = {stage, i};
  }
  auto status = job["job_status"].value_or("");
  CHECK((status == "completed" || status == "failed"));
  CHECK(to_i64(job["total_images"]) == total);
  CHECK(job["started_at"].has_value());
  CHECK(job["completed_at"].has_value());

  // generated_attach_ids: each image once, and exactly the rows made for it.
  auto generated = json_ids(job["generated_attach_ids"]);
  std::set<int64_t> generated_set(generated.begin(), generated.end());
  CHECK(generated_set.size() == generated.size());
  CHECK(to_i64(job["completed_images"]) == static_cast<int64_t>(generated.size()));
  CHECK(to_i64(job["completed_images"]) + to_i64(job["failed_images"]) == total);

  std::set<int64_t> rows_for_job;
  for (auto& r : query(h, "SELECT attach_id FROM quel_attach WHERE attach_file_path LIKE "
                          + quoted("%" + e.job_id + "%")
                          + " OR attach_directory LIKE " + quoted("%" + e.job_id + "%")))
    rows_for_job.insert(to_i64(r[0]));
  CHECK(rows_for_job == generated_set);

  std::set<std::pair<int, int>> made;
  std::map<std::pair<int, int>, int64_t> id_of_slot;
  std::set<std::string> keys;
  for (auto id : generated) {
    auto rows = query(h, "SELECT attach_file_path, attach_file_name, attach_file_type,"
                         " attach_file_size, org_id FROM quel_attach WHERE attach_id = "
                         + std::to_string(id));
    INFO("attach " << id);
    REQUIRE(rows.size() == 1);
    auto& r = rows[0];
    REQUIRE(r[0].has_value());
    auto key = *r[0];
    INFO("key " << key);
    keys.insert(key);
    auto parts = split_path(key);
    CHECK(std::find(parts.begin(), parts.end(), e.job_id) != parts.end());
    CHECK(r[1] == std::optional<std::string>{parts.back()});
    CHECK(r[2] == std::optional<std::string>{e.mime});
    CHECK(r[4] == e.org_id);
    auto slot = slot_of_key.find(key);
    REQUIRE(slot != slot_of_key.end());
    CHECK(made.insert(slot->second).second);
    id_of_slot[slot->second] = id;
    auto bytes = h.read_object(key);
    CHECK(to_i64(r[3]) == static_cast<int64_t>(bytes.size()));
    CHECK(bytes_are(bytes, e.mime));
  }

  // Storage: exactly one object per image made, nothing else for this job.
  std::set<std::string> stored;
  for (auto& k : h.output_objects()) {
    auto parts = split_path(k);
    if (std::find(parts.begin(), parts.end(), e.job_id) != parts.end())
      stored.insert(k);
  }
  CHECK(stored == keys);

  // Production: existing ids first, then the job's in (stage, image) order.
  auto expected_ids = e.existing_attach_ids;
  for (auto& [slot, id] : id_of_slot)
    expected_ids.push_back(id);
  auto production = query(h, "SELECT production_status, attach_ids::text FROM "
                             "quel_production_photo WHERE production_id = "
                             + quoted(e.production_id));
  REQUIRE(production.size() == 1);
  CHECK(production[0][0] == job["job_status"]);
  CHECK(json_ids(production[0][1]) == expected_ids);

  // Credits: one charge row per image made, balances stepping down by cost.
  auto charges = query(h, "SELECT org_id, attach_id, amount, balance_after, reason"
                          " FROM quel_credit_log WHERE job_id = " + quoted(e.job_id)
                          + " ORDER BY log_id");
  if (!e.org_id) {
    CHECK(charges.empty());
    return made;
  }
  CHECK(charges.size() == generated.size());
  std::set<int64_t> charged_attach;
  int64_t balance = e.balance_before;
  for (auto& c : charges) {
    balance -= e.cost;
    CHECK(c[0] == e.org_id);
    CHECK(to_i64(c[2]) == -e.cost);
    CHECK(to_i64(c[3]) == balance);
    CHECK(c[4] == std::optional<std::string>{"image_generation"});
    REQUIRE(c[1].has_value());
    charged_attach.insert(to_i64(c[1]));
  }
  CHECK(charged_attach == generated_set);
  CHECK(h.db().org_credit(*e.org_id)
        == e.balance_before - e.cost * static_cast<int64_t>(generated.size()));
  CHECK(std::stoll(query_value(h, "SELECT count(*) FROM quel_credit_log WHERE org_id = "
                                  + quoted(*e.org_id)).value_or("-1"))
        == static_cast<int64_t>(generated.size()));
  return made;
}

void check_completed(worker_harness& h, const expected_run& e) {
  auto made = check_outputs(h, e);
  auto job = job_row(h, e.job_id);
  INFO("job " << e.job_id << " error=" << job["error_message"].value_or("NULL"));
  CHECK(job["job_status"] == std::optional<std::string>{"completed"});
  CHECK_FALSE(job["error_message"].has_value());
  CHECK(to_i64(job["failed_images"]) == 0);
  int total = 0;
  for (auto& s : e.stages)
    total += s.second;
  CHECK(static_cast<int>(made.size()) == total);
}

void check_invalid(worker_harness& h, const std::string& job_id,
                   const std::string& production_id,
                   const std::optional<std::string>& org_id, int64_t balance_before,
                   const std::vector<std::vector<std::string>>& needles) {
  auto job = job_row(h, job_id);
  auto error = job["error_message"].value_or("");
  INFO("job " << job_id << " status=" << job["job_status"].value_or("NULL")
              << " error_message=" << job["error_message"].value_or("NULL"));
  CHECK(job["job_status"] == std::optional<std::string>{"failed"});
  CHECK(job["error_message"].has_value());
  CHECK(to_i64(job["total_images"]) == 0);
  CHECK(to_i64(job["completed_images"]) == 0);
  CHECK(to_i64(job["failed_images"]) == 0);
  CHECK(job["completed_at"].has_value());
  CHECK(json_ids(job["generated_attach_ids"]).empty());
  for (auto& group : needles) {
    bool found = false;
    std::string wanted;
    for (auto& n : group) {
      found = found || contains_nocase(error, n);
      wanted += " \"" + n + "\"";
    }
    INFO("error_message should contain one of:" << wanted);
    CHECK(found);
  }
  CHECK(query_value(h, "SELECT production_status FROM quel_production_photo WHERE "
                       "production_id = " + quoted(production_id))
        == std::optional<std::string>{"failed"});
  CHECK(query_value(h, "SELECT count(*) FROM quel_credit_log WHERE job_id = "
                       + quoted(job_id)) == std::optional<std::string>{"0"});
  if (org_id)
    CHECK(h.db().org_credit(*org_id) == balance_before);
}

void check_lists_empty(worker_harness& h) {
  auto lists = h.non_empty_lists();
  std::string names;
  for (auto& l : lists)
    names += " " + l;
  INFO("lists still holding entries:" << names);
  CHECK(lists.empty());
}

} // namespace quel::test
