// End-to-end: the log events of CONTRACT.md section 8, in both formats, each
// carrying the job id (rule 26).
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/integration/worker_checks.hpp"

using namespace quel::test;

namespace {

struct logged_job {
  std::string job_id;
  int64_t model = 0;
  int64_t top = 0;
};

// A 2-stage job of 2+2 images: stage 0 takes a model and a top.
logged_job seed_job(worker_harness& h) {
  auto org = h.db().create_org(10);
  logged_job j;
  j.model = h.add_input("inputs/model.png", sample_image("png", 0), org);
  j.top = h.add_input("inputs/top.jpg", sample_image("jpg", 1), org);
  auto production = h.db().create_production(org);
  auto m = std::to_string(j.model);
  auto t = std::to_string(j.top);
  auto input = pipeline_json(
    {stage_json(0, "log stage 0", 2, {attach_entry(m, "model"), attach_entry(t, "top")}),
     stage_json(1, "log stage 1", 2, {attach_entry(m, "model")})});
  j.job_id = h.db().create_job(production, org, "pipeline_stage", input);
  h.enqueue(j.job_id);
  return j;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      lines.push_back(line);
  return lines;
}

std::vector<std::string> expected_events(const logged_job& j) {
  return {"Received new job: " + j.job_id,
          "Stage 0/1: Processing 2 images",
          "Fetching attach info: " + std::to_string(j.model),
          "Downloading image: AttachID=" + std::to_string(j.model) + ", Type=model",
          "Image downloaded successfully:",
          "Calling Gemini API",
          "Attach record created: ID=",
          "Updating job progress: 1/4 completed",
          "Stage 0 completed: 2/2 images generated"};
}

} // namespace

TEST_CASE("human logs name every section 8 event with job=<id>", "[e2e][logs]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto j = seed_job(h);
  auto r = h.drain();
  auto lines = lines_of(r.err);

  for (auto& event : expected_events(j)) {
    INFO("event: " << event << "\nstderr:\n" << r.err);
    bool seen = false;
    for (auto& line : lines) {
      if (line.find(event) == std::string::npos)
        continue;
      seen = true;
      INFO("line: " << line);
      CHECK(line.find("job=" + j.job_id) != std::string::npos);
    }
    CHECK(seen);
  }
}

TEST_CASE("with --log-format=json every line is JSON and job lines carry job_id", "[e2e][logs]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto j = seed_job(h);
  auto r = h.drain({}, {"--log-format=json"});
  auto lines = lines_of(r.err);
  REQUIRE_FALSE(lines.empty());

  std::vector<nlohmann::json> parsed;
  for (auto& line : lines) {
    INFO("line: " << line);
    auto doc = nlohmann::json::parse(line, nullptr, false);
    CHECK_FALSE(doc.is_discarded());
    CHECK(doc.is_object());
    if (doc.is_object())
      parsed.push_back(doc);
  }
  for (auto& event : expected_events(j)) {
    INFO("event: " << event << "\nstderr:\n" << r.err);
    bool seen = false;
    for (auto& doc : parsed) {
      if (doc.dump().find(event) == std::string::npos)
        continue;
      seen = true;
      INFO("line: " << doc.dump());
      CHECK(doc.value("job_id", "") == j.job_id);
    }
    CHECK(seen);
  }
}
