// Hostile-input table (docs/SECURITY.md section 8), rows J* and Q*: hostile
// job input and hostile ids on the queue, run through one real worker
// (`run --drain`, local storage and generator) together with a good job.
// Each row ends with its recorded reason (error_message or dead-letter
// entry), and every row ends with the same invariants: the job or id is not
// lost, nothing is charged, no hold is left, the logs stay one sane line per
// entry, and the good job still completes.
#include <cctype>
#include <filesystem>

#include <catch2/catch.hpp>

#include "tests/integration/worker_hostile_checks.hpp"

using namespace quel::test;

namespace {

/// A row of hostile job input: the job's input and what its error_message
/// must say (each group: one of its members, case-insensitive).
struct input_row {
  std::string row;  // table row id, as in docs/SECURITY.md
  std::string name;
  std::string input;
  std::vector<std::vector<std::string>> needles;
  std::string job_type = "pipeline_stage";
  // Refused while validating (nothing planned: counters 0). Otherwise the
  // job is planned and fails when the input is read.
  bool at_validation = true;
};

/// A row of hostile ids pushed onto a queue: the id must end in jobs:dead
/// with a reason containing `reason`.
struct id_row {
  std::string row;
  std::string name;
  std::string id;
  std::string reason;
};

std::string entry(int64_t attach, const std::string& type = "model") {
  return attach_entry(std::to_string(attach), type);
}

std::string one_stage(const std::string& stage) {
  return pipeline_json({stage});
}

/// A stage from raw JSON texts, so a test can put any value in any field.
struct raw_stage {
  std::string stage_index = "0";
  std::string prompt = "\"hostile\"";
  std::string quantity = "1";
  std::string inputs;
  std::string json() const {
    return "{\"stage_index\": " + stage_index + ", \"prompt\": " + prompt
           + ", \"quantity\": " + quantity + ", \"individualImageAttachIds\": " + inputs + "}";
  }
};

std::string nested(int depth) {
  return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']');
}

std::vector<input_row> input_rows(int64_t good, const std::map<std::string, int64_t>& keys) {
  auto g = std::to_string(good);
  auto ok = [&] { return stage_json(0, "valid stage", 1, {entry(good)}); };
  auto with_entry = [&](const std::string& e) {
    return one_stage(stage_json(0, "hostile entry", 1, {entry(good), e}));
  };
  auto key_row = [&](const std::string& row, const std::string& name, const std::string& key,
                     std::vector<std::string> words) {
    auto id = keys.at(key);
    return input_row{row, name, one_stage(stage_json(0, "hostile key", 1, {entry(id)})),
                     {{std::to_string(id)}, std::move(words)}};
  };
  std::vector<std::string> seventeen_stages;
  for (int i = 0; i < 17; ++i)
    seventeen_stages.push_back(stage_json(i, "stage", 1, {entry(good)}));
  std::vector<std::string> seventeen_inputs(17, entry(good));
  const std::string valid = one_stage(ok());
  const std::string inputs = "[" + entry(good) + "]";
  auto stage = [&](auto change) {
    raw_stage st;
    st.inputs = inputs;
    change(st);
    return one_stage(st.json());
  };
  return {
    // Not a JSON object (the column is jsonb, so "not JSON" reaches the
    // worker as JSON of the wrong shape).
    {"J1", "a JSON string", "\"stages\"", {{"is not a JSON object"}}},
    {"J2", "double-encoded JSON", nlohmann::json(valid).dump(), {{"is not a JSON object"}}},
    {"J3", "an array", "[1, 2, 3]", {{"is not a JSON object"}}},
    {"J4", "null", "null", {{"is not a JSON object"}}},
    // Size and depth.
    {"J5", "arrays nested 1000 deep",
     "{\"padding\": " + nested(1000) + ", \"stages\": [" + ok() + "]}",
     {{"nests arrays and objects deeper than 64 levels"}}},
    {"J6", "job_input_data over 256 KiB",
     "{\"padding\": \"" + std::string(300000, 'x') + "\", \"stages\": [" + ok() + "]}",
     {{"more than limits.max_job_input_bytes (262144)"}}},
    {"J7", "prompt of 250000 characters",
     one_stage(stage_json(0, std::string(250000, 'p'), 1, {entry(good)})),
     {{"prompt has 250000 characters, more than 20000"}}},
    {"J8", "aspectRatio of 200000 characters", pipeline_json({ok()}, std::string(200000, 'r')),
     {{"aspectRatio"}, {"is not one of"}}},
    // Wrong types.
    {"J9", "stages is a string", "{\"stages\": \"0\"}", {{"stages \"0\" is not an array"}}},
    {"J10", "a stage is a number", "{\"stages\": [5]}",
     {{"stage at position 0 is not an object"}}},
    {"J11", "quantity is a word", stage([](raw_stage& st) { st.quantity = "\"two\""; }),
     {{"quantity \"two\" is not a whole number"}}},
    {"J12", "prompt is a number", stage([](raw_stage& st) { st.prompt = "42"; }),
     {{"prompt 42 is not a string"}}},
    {"J13", "individualImageAttachIds is an object",
     stage([](raw_stage& st) { st.inputs = "{\"a\": 1}"; }),
     {{"is not an array"}}},
    {"J14", "an input entry is a string", with_entry("\"" + g + "\""), {{"is not an object"}}},
    {"J15", "type is a number", with_entry("{\"attachId\": " + g + ", \"type\": 7}"),
     {{"type 7 is not a string"}}},
    {"J16", "module is an array", "{\"module\": [\"fashion\"], \"stages\": [" + ok() + "]}",
     {{"module [\"fashion\"] is not a string"}}},
    // Numbers that are not exactly whole, and ids beyond 2^53.
    {"J17", "quantity 1.5", stage([](raw_stage& st) { st.quantity = "1.5"; }),
     {{"quantity 1.5 is not a whole number"}}},
    {"J18", "stage_index 0.5", stage([](raw_stage& st) { st.stage_index = "0.5"; }),
     {{"stage_index 0.5 is not a whole number"}}},
    {"J19", "attachId 39070.00000000000000000001 (a double 39070)",
     with_entry(attach_entry("39070.00000000000000000001", "top")),
     {{"39070.00000000000000000001 is not a whole number"}}},
    {"J20", "attachId \" 39070\" (a string with a space)",
     with_entry(attach_entry("\" 39070\"", "top")),
     {{"a string must hold decimal digits only"}}},
    {"J21", "attachId 2^53 + 1", with_entry(attach_entry("9007199254740993", "top")),
     {{"attachId 9007199254740993 is beyond 2^53"}}},
    {"J22", "fromStage 2^53 + 1",
     with_entry("{\"fromStage\": 9007199254740993, \"index\": 0, \"type\": \"top\"}"),
     {{"fromStage 9007199254740993 is beyond 2^53"}}},
    {"J23", "quantity 2^53 + 1", stage([](raw_stage& st) { st.quantity = "9007199254740993"; }),
     {{"quantity 9007199254740993 is out of range"}}},
    // Attach types.
    {"J24", "type with a newline forging a log line",
     with_entry(attach_entry(g, "top\\n2026-01-01T00:00:00Z info Job finished")),
     {{"has a character other than ASCII letters"}}},
    {"J25", "type with terminal escape codes", with_entry(attach_entry(g, "\\u001b[2K\\r\\u009b")),
     {{"has a character other than ASCII letters"}, {"\\u001b"}}},
    {"J26", "type of 100000 characters", with_entry(attach_entry(g, std::string(100000, 't'))),
     {{"type has 100000 characters, more than 64"}}},
    {"J27", "type with U+2028", with_entry(attach_entry(g, "top\xe2\x80\xa8x")),
     {{"has a character other than ASCII letters"}}},
    // Counts.
    {"J28", "17 stages", pipeline_json(seventeen_stages), {{"17 stages, more than 16"}}},
    {"J29", "17 inputs", one_stage(stage_json(0, "crowded", 1, seventeen_inputs)),
     {{"17 inputs, more than 16"}}},
    {"J30", "quantity 17", one_stage(stage_json(0, "many", 17, {entry(good)})),
     {{"quantity 17 is out of range"}}},
    {"J31", "job_type with a forged log line", valid,
     {{"job_type"}, {"is not one of pipeline_stage, single_batch"}},
     "pipeline_stage\n2026-01-01T00:00:00Z info Job finished"},
    // Object keys of attach rows (docs/SECURITY.md section 5).
    key_row("J32", "key ../../etc/passwd", "../../etc/passwd", {"'..' segment"}),
    key_row("J33", "key /etc/passwd", "/etc/passwd", {"starts with '/'"}),
    key_row("J34", "key with %2e%2e", "inputs/%2e%2e/secret.png", {"percent-encoded"}),
    key_row("J35", "key with a newline", "inputs/\nmodel.png", {"control character"}),
    key_row("J36", "key with a scheme", "http://evil.example/x.png", {"scheme"}),
    key_row("J37", "key with backslashes", "inputs\\..\\secret.png", {"backslash"}),
    key_row("J38", "key with an empty segment", "inputs//model.png", {"empty segment"}),
    key_row("J39", "key of 2000 bytes", "inputs/" + std::string(1992, 'k'),
            {"longer than 1024 bytes"}),
    // A symlink in the bucket: the job is planned, the read is refused.
    input_row{"J40", "key naming a symlink out of the bucket",
              one_stage(stage_json(0, "hostile link", 1, {entry(keys.at("inputs/link.png"))})),
              {{"symlink"}}, "pipeline_stage", false},
  };
}

std::vector<id_row> id_rows() {
  return {
    {"Q1", "not a UUID", "not-a-uuid", "job id is not a UUID"},
    {"Q2", "100 KB id", std::string(100000, 'a'), "job id is not a UUID"},
    {"Q3", "id forging a log line",
     "5d0c1a8e\n2026-01-01T00:00:00Z info Job finished\x1b[2K", "job id is not a UUID"},
    {"Q4", "id of invalid UTF-8", "\xff\xfe\x9b-not-utf8", "job id is not a UUID"},
    {"Q5", "empty id", "", "job id is not a UUID"},
    {"Q6", "unknown job id", "5d0c1a8e-8a43-4f43-9b0e-3f1f8f1f2b77", "no job row with this id"},
  };
}

/// The id as jobs:dead can hold it: JSON text, invalid UTF-8 replaced.
std::string as_stored(const std::string& id) {
  auto text = nlohmann::json(id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(text).get<std::string>();
}

std::string outputs_dump(worker_harness& h) {
  std::string out;
  for (auto& k : h.output_objects())
    out += k + " ";
  return out;
}

} // namespace

TEST_CASE("hostile job input and queue ids: each row ends with its recorded reason",
          "[e2e][hostile]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  // Distinctive ids, so that an error naming one cannot match by accident.
  query(h, "SELECT setval('quel_attach_attach_id_seq', 39069)");
  auto good = h.add_input("inputs/model.png", sample_image("png", 0));
  h.put_object("secrets/model.png", sample_image("png", 1));
  std::map<std::string, int64_t> keys;
  for (const std::string& key : std::vector<std::string>{"../../etc/passwd", "/etc/passwd", "inputs/%2e%2e/secret.png",
                          "inputs/\nmodel.png", "http://evil.example/x.png",
                          "inputs\\..\\secret.png", "inputs//model.png",
                          "inputs/" + std::string(1992, 'k'), "inputs/link.png"}) {
    keys[key] = h.db().create_attach(key, std::nullopt, std::nullopt);
    h.note_input_row();
  }
  auto link = std::filesystem::path(h.storage_dir()) / "images" / "inputs" / "link.png";
  std::filesystem::create_symlink("/etc/hostname", link);

  struct seeded {
    input_row r;
    std::string job_id, production_id, org_id;
  };
  std::vector<seeded> jobs;
  for (auto& r : input_rows(good, keys)) {
    auto org = h.db().create_org(50, "org " + r.row);
    auto production = h.db().create_production(org);
    auto job = h.db().create_job(production, org, r.job_type, r.input);
    h.enqueue(job);
    jobs.push_back({r, job, production, org});
  }
  for (auto& r : id_rows())
    h.enqueue(r.id);
  // Q7: the id of a real job, spelled in upper case.
  auto upper_org = h.db().create_org(50, "org Q7");
  auto upper_production = h.db().create_production(upper_org);
  auto upper_job = h.db().create_job(upper_production, upper_org, "pipeline_stage",
                                     one_stage(stage_json(0, "upper", 1, {entry(good)})));
  std::string upper_id = upper_job;
  for (auto& c : upper_id)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  h.enqueue(upper_id);
  // Q8: one real job pushed in both spellings at once.
  auto twice_org = h.db().create_org(50, "org Q8");
  auto twice_production = h.db().create_production(twice_org);
  auto twice_job = h.db().create_job(twice_production, twice_org, "pipeline_stage",
                                     one_stage(stage_json(0, "twice", 1, {entry(good)})));
  std::string twice_upper = twice_job;
  for (auto& c : twice_upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  h.enqueue(twice_job);
  h.enqueue(twice_upper);
  // The good job comes last: the worker is still taking and finishing work.
  auto good_org = h.db().create_org(50, "org good");
  auto good_production = h.db().create_production(good_org);
  auto good_job = h.db().create_job(
    good_production, good_org, "pipeline_stage",
    one_stage(stage_json(0, "good", 2, {entry(good)})));
  h.enqueue(good_job);
  auto run = h.drain();

  for (auto& s : jobs) {
    INFO("row " << s.r.row << ": " << s.r.name);
    if (s.r.at_validation) {
      check_invalid(h, s.job_id, s.production_id, s.org_id, 50, s.r.needles);
    } else {
      auto row = job_row(h, s.job_id);
      auto error = row["error_message"].value_or("");
      INFO("error_message: " << error);
      CHECK(row["job_status"] == std::optional<std::string>{"failed"});
      for (auto& group : s.r.needles) {
        bool found = false;
        for (auto& n : group)
          found = found || contains_nocase(error, n);
        CHECK(found);
      }
    }
    check_row_invariants(h, s.job_id, s.org_id, 50);
  }

  auto dead = dead_letters_by_id(h);
  auto ids = id_rows();
  CHECK(dead.size() == ids.size());
  for (auto& r : ids) {
    INFO("row " << r.row << ": " << r.name);
    auto it = dead.find(as_stored(r.id));
    REQUIRE(it != dead.end());
    CHECK(it->second.value("queue", "") == "jobs:queue");
    CHECK(contains_nocase(it->second.value("reason", ""), r.reason));
  }

  {
    INFO("row Q7: the id of a real job in upper case; outputs " << outputs_dump(h));
    // A UUID in upper case is the same UUID: the job is processed (its
    // object key carries the id as it was pushed), charged once.
    auto row = job_row(h, upper_job);
    CHECK(row["job_status"] == std::optional<std::string>{"completed"});
    check_row_invariants(h, upper_job, upper_org, 50);
    CHECK(h.db().org_credit(upper_org) == 49);
  }
  {
    INFO("row Q8: one job pushed in both spellings; outputs " << outputs_dump(h));
    auto row = job_row(h, twice_job);
    CHECK(row["job_status"] == std::optional<std::string>{"completed"});
    check_row_invariants(h, twice_job, twice_org, 50);
    CHECK(h.db().org_credit(twice_org) == 49);
  }
  check_completed(h, {good_job, good_org, good_production, {}, {{0, 2}}, 1, 50});
  check_lists_empty(h);
  check_no_holds(h);
  // Nothing read through the symlink or the traversal keys was stored.
  // Only the good job's two images and one each for Q7 and Q8 (the symlink
  // the test made shows as its target, outside generated/).
  int generated = 0;
  for (auto& key : h.output_objects())
    generated += key.rfind("generated/", 0) == 0 ? 1 : 0;
  CHECK(generated == 4);
  // Human log lines: one line per entry, bounded, nothing forged.
  check_log_lines_safe(run.err, 8192, {"2026-01-01T00:00:00Z"});
}
