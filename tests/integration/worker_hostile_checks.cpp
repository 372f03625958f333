#include "tests/integration/worker_hostile_checks.hpp"

#include <catch2/catch.hpp>

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

int64_t number(const std::optional<std::string>& v) {
  REQUIRE(v.has_value());
  return std::stoll(*v);
}

} // namespace

void check_row_invariants(worker_harness& h, const std::string& job_id,
                          const std::optional<std::string>& org_id, int64_t balance_before,
                          int64_t cost) {
  auto job = job_row(h, job_id);
  INFO("job " << job_id << " status=" << job["job_status"].value_or("NULL")
              << " error_message=" << job["error_message"].value_or("NULL"));
  auto status = job["job_status"].value_or("");
  CHECK((status == "completed" || status == "failed"));
  CHECK(job["completed_at"].has_value());
  auto made = json_ids(job["generated_attach_ids"]);
  CHECK(number(job["completed_images"]) == static_cast<int64_t>(made.size()));
  CHECK(number(job["completed_images"]) + number(job["failed_images"])
        == number(job["total_images"]));
  // A stored error_message is bounded (docs/SECURITY.md section 2).
  CHECK(job["error_message"].value_or("").size() <= 4000);
  CHECK(query_value(h, "SELECT count(*) FROM quel_worker_credit_hold WHERE job_id::text = "
                         + quoted(job_id))
        == std::optional<std::string>{"0"});
  auto charges = number(query_value(h, "SELECT count(*) FROM quel_credit_log WHERE job_id = "
                                         + quoted(job_id)));
  CHECK(charges == static_cast<int64_t>(made.size()));
  if (org_id)
    CHECK(h.db().org_credit(*org_id)
          == balance_before - cost * static_cast<int64_t>(made.size()));
}

std::map<std::string, nlohmann::json> dead_letters_by_id(worker_harness& h) {
  std::map<std::string, nlohmann::json> out;
  for (auto& entry : h.redis().lrange("jobs:dead")) {
    INFO("dead letter: " << entry.substr(0, 500));
    auto j = nlohmann::json::parse(entry, nullptr, false);
    REQUIRE(j.is_object());
    REQUIRE(j.contains("id"));
    REQUIRE(j["id"].is_string());
    CHECK(j.contains("queue"));
    CHECK(j.contains("reason"));
    CHECK(j.contains("at"));
    out[j["id"].get<std::string>()] = j;
  }
  return out;
}

void check_log_lines_safe(const std::string& log, size_t max_line,
                          const std::vector<std::string>& forged) {
  size_t start = 0;
  int number = 0;
  while (start < log.size()) {
    auto end = log.find('\n', start);
    if (end == std::string::npos)
      end = log.size();
    auto line = log.substr(start, end - start);
    ++number;
    INFO("log line " << number << ": " << line.substr(0, 300));
    CHECK(line.size() <= max_line);
    bool raw_control = false;
    for (unsigned char c : line)
      raw_control = raw_control || (c < 0x20 && c != '\t') || c == 0x7f;
    CHECK_FALSE(raw_control);
    for (auto& f : forged)
      CHECK(line.rfind(f, 0) != 0);
    start = end + 1;
  }
}

void check_no_holds(worker_harness& h) {
  CHECK(h.db().count("SELECT count(*) FROM quel_worker_credit_hold") == 0);
}

} // namespace quel::test
