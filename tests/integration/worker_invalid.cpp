// End-to-end: every invalid input of CONTRACT.md section 3 (rules 6-13) ends
// `failed` before anything is generated or charged.
#include <catch2/catch.hpp>

#include "tests/integration/worker_checks.hpp"

using namespace quel::test;

namespace {

struct invalid_case {
  std::string name;
  std::string job_type;
  std::string input;
  std::string queue;
  // Each group: error_message must contain one of its members.
  std::vector<std::vector<std::string>> needles;
};

struct seeded {
  invalid_case c;
  std::string job_id;
  std::string production_id;
  std::string org_id;
};

std::string ok_stage(int index, int64_t attach) {
  return stage_json(index, "valid stage", 1,
                    {attach_entry(std::to_string(attach), "model")});
}

// A stage whose entry 1 carries `bad_entry`; entry 0 is valid.
std::string stage_with_bad_entry(int index, int64_t attach, const std::string& bad_entry) {
  return stage_json(index, "stage with a bad entry", 1,
                    {attach_entry(std::to_string(attach), "model"), bad_entry});
}

std::vector<invalid_case> cases(int64_t good, int64_t no_key, int64_t dotdot, int64_t dot) {
  auto g = std::to_string(good);
  auto bad_id = [&](const std::string& value) {
    return pipeline_json({ok_stage(0, good),
                          stage_with_bad_entry(1, good, attach_entry(value, "top"))});
  };
  std::vector<std::string> many_stages;
  for (int i = 0; i < 17; ++i)
    many_stages.push_back(ok_stage(i, good));
  std::vector<std::string> many_inputs;
  for (int i = 0; i < 17; ++i)
    many_inputs.push_back(attach_entry(g, "model"));
  const std::string q = "jobs:queue";
  // The bad entries of bad_id() sit in the stage whose stage_index is 1.
  const std::vector<std::string> stage_word{"stage 1", "stage_index 1", "stage_index=1"};
  // ... and are entry 1 (0-based) of that stage (rule 7).
  const std::vector<std::string> entry_word{"input 1", "entry 1", "position 1", "[1]"};
  return {
    {"attachId 39070.5", "pipeline_stage", bad_id("39070.5"), q,
     {{"39070.5"}, stage_word, entry_word}},
    {"attachId -1", "pipeline_stage", bad_id("-1"), q, {{"-1"}, stage_word, entry_word}},
    {"attachId 0", "pipeline_stage", bad_id("0"), q,
     {{"attachId"}, stage_word, entry_word}},
    {"attachId true", "pipeline_stage", bad_id("true"), q,
     {{"true"}, stage_word, entry_word}},
    {"attachId \"abc\"", "pipeline_stage", bad_id("\"abc\""), q,
     {{"\"abc\""}, stage_word, entry_word}},
    {"attachId missing", "pipeline_stage",
     pipeline_json({stage_with_bad_entry(0, good, "{\"type\": \"top\"}")}), q,
     {{"missing"}, {"attachId"}, {"stage 0", "stage_index 0", "stage_index=0"}}},
    {"attachId and fromStage", "pipeline_stage",
     pipeline_json({ok_stage(0, good),
                    stage_json(1, "both", 1,
                               {"{\"attachId\": " + g
                                + ", \"fromStage\": 0, \"index\": 0, \"type\": \"model\"}"})}),
     q, {{"fromStage"}}},
    {"fromStage to a missing stage", "pipeline_stage",
     pipeline_json({ok_stage(0, good),
                    stage_json(1, "missing stage", 1, {from_stage_entry(5, 0, "model")})}),
     q, {{"5"}, {"stage"}}},
    {"index >= quantity", "pipeline_stage",
     pipeline_json({stage_json(0, "two", 2, {attach_entry(g, "model")}),
                    stage_json(1, "third image", 1, {from_stage_entry(0, 2, "model")})}),
     q, {{"index"}}},
    {"cycle", "pipeline_stage",
     pipeline_json({stage_json(0, "a", 1, {from_stage_entry(1, 0, "model")}),
                    stage_json(1, "b", 1, {from_stage_entry(0, 0, "model")})}),
     q, {{"cycle", "circular"}}},
    {"duplicate stage_index", "pipeline_stage",
     pipeline_json({ok_stage(0, good), ok_stage(0, good)}), q,
     {{"duplicate", "unique", "twice"}}},
    {"quantity 0", "pipeline_stage",
     pipeline_json({stage_json(0, "none", 0, {attach_entry(g, "model")})}), q,
     {{"quantity"}}},
    {"quantity 17", "pipeline_stage",
     pipeline_json({stage_json(0, "many", 17, {attach_entry(g, "model")})}), q,
     {{"quantity"}, {"17", "16"}}},
    {"17 stages", "pipeline_stage", pipeline_json(many_stages), q,
     {{"stage"}, {"17", "16"}}},
    {"17 inputs", "pipeline_stage",
     pipeline_json({stage_json(0, "crowded", 1, many_inputs)}), q,
     {{"input", "individualImageAttachIds"}, {"17", "16"}}},
    {"empty prompt", "pipeline_stage",
     pipeline_json({stage_json(0, "", 1, {attach_entry(g, "model")})}), q, {{"prompt"}}},
    {"prompt of 20001 characters", "pipeline_stage",
     pipeline_json({stage_json(0, std::string(20001, 'p'), 1, {attach_entry(g, "model")})}),
     q, {{"prompt"}}},
    {"bad aspectRatio", "pipeline_stage",
     pipeline_json({ok_stage(0, good)}, "7:3"), q, {{"aspectRatio", "aspect ratio"}}},
    {"unknown job_type", "video_batch", pipeline_json({ok_stage(0, good)}), q,
     {{"video_batch", "job_type"}}},
    {"module mismatch", "pipeline_stage",
     "{\"module\": \"beauty\", \"stages\": [" + ok_stage(0, good) + "]}", q, {{"module"}}},
    {"module in the wrong case", "pipeline_stage",
     "{\"module\": \"Cartoon\", \"stages\": [" + ok_stage(0, good) + "]}",
     "jobs:queue:cartoon", {{"module"}}},
    {"attach row missing", "pipeline_stage", pipeline_json({ok_stage(0, 987654)}), q,
     {{"987654"}}},
    {"attach row with neither key", "pipeline_stage", pipeline_json({ok_stage(0, no_key)}),
     q, {{std::to_string(no_key)}}},
    {"key with a .. segment", "pipeline_stage", pipeline_json({ok_stage(0, dotdot)}), q,
     {{std::to_string(dotdot), ".."}}},
    // Hostile input (docs/SECURITY.md, "Input limits" and "Paths").
    {"key with a . segment", "pipeline_stage", pipeline_json({ok_stage(0, dot)}), q,
     {{std::to_string(dot)}, {"'.' segment"}}},
    {"attachId not exactly whole", "pipeline_stage", bad_id("39070.00000000000000000001"), q,
     {{"39070.00000000000000000001 is not a whole number"}, stage_word, entry_word}},
    {"attachId 2^53 + 1", "pipeline_stage", bad_id("9007199254740993"), q,
     {{"attachId 9007199254740993 is beyond 2^53"}, stage_word, entry_word}},
    // jsonb writes 1e300 back as 301 digits, shortened in the message.
    {"attachId 1e300", "pipeline_stage", bad_id("1e300"), q,
     {{"attachId 1000000000"}, {"is beyond 2^53"}, stage_word, entry_word}},
    {"type forging a log line", "pipeline_stage",
     pipeline_json({stage_with_bad_entry(1, good, attach_entry(g, "top\\nINFO forged"))}), q,
     {{"type"}, {"other than ASCII letters"}}},
    {"type of 65 characters", "pipeline_stage",
     pipeline_json({stage_with_bad_entry(1, good, attach_entry(g, std::string(65, 't')))}), q,
     {{"type has 65 characters, more than 64"}}},
    {"preamble and prompt over max_prompt_chars", "pipeline_stage",
     pipeline_json({stage_json(0, std::string(19990, 'p'), 1, {attach_entry(g, "model")})}),
     q, {{"prompt sent to the model has"}, {"more than 20000"}}},
    {"job_input_data over 256 KiB", "pipeline_stage",
     // jsonb drops whitespace, so the size is in a member nobody reads.
     "{\"padding\": \"" + std::string(300000, 'x') + "\", \"stages\": [" + ok_stage(0, good)
       + "]}",
     q,
     {{"more than limits.max_job_input_bytes (262144)"}}},
  };
}

} // namespace

TEST_CASE("every invalid job input fails before anything is generated or charged",
          "[e2e][invalid]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  // Distinctive ids, so that an error naming one cannot match by accident.
  query(h, "SELECT setval('quel_attach_attach_id_seq', 39069)");
  auto good = h.add_input("inputs/model.png", sample_image("png", 0));
  auto no_key = h.db().create_attach(std::nullopt, std::nullopt);
  h.note_input_row();
  auto dotdot = h.db().create_attach(std::string{"inputs/../secrets/model.png"},
                                     std::nullopt);
  h.note_input_row();
  h.put_object("secrets/model.png", sample_image("png", 1));
  auto dot = h.db().create_attach(std::string{"inputs/./model.png"}, std::nullopt);
  h.note_input_row();

  // One org and production per case, so that each case's charges are its own.
  std::vector<seeded> jobs;
  for (auto& c : cases(good, no_key, dotdot, dot)) {
    auto org = h.db().create_org(50, c.name);
    auto production = h.db().create_production(org);
    auto job = h.db().create_job(production, org, c.job_type, c.input);
    h.enqueue(job, c.queue);
    jobs.push_back({c, job, production, org});
  }
  h.drain();

  for (auto& s : jobs) {
    INFO("case: " << s.c.name);
    check_invalid(h, s.job_id, s.production_id, s.org_id, 50, s.c.needles);
  }
  CHECK(h.db().count("SELECT count(*) FROM quel_attach") == h.inputs_created());
  CHECK(h.db().count("SELECT count(*) FROM quel_credit_log") == 0);
  CHECK(h.output_objects().empty());
  CHECK(h.redis().llen("jobs:dead") == 0);
  check_lists_empty(h);
}
