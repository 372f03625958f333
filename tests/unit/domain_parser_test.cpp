// Job input validation: shape, id forms, limits, aspectRatio, module and
// job_type (CONTRACT.md section 3, rules 6-8 and 10-12).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "domain/job_parser.hpp"
#include "tests/unit/domain_parser_support.hpp"

using namespace quel;
using namespace quel::test;
using nlohmann::json;

TEST_CASE("the contract's pipeline example parses into ordered stages", "[parser]") {
  auto spec = parse_ok("pipeline_stage", R"({
    "stages": [
      { "stage_index": 0, "prompt": "Stage 0 prompt text", "quantity": 2,
        "individualImageAttachIds": [ {"attachId": 39070, "type": "model"},
                                      {"attachId": 39071, "type": "top"} ] },
      { "stage_index": 1, "prompt": "Stage 1 prompt text", "quantity": 2,
        "individualImageAttachIds": [ {"fromStage": 0, "index": 0, "type": "model"},
                                      {"attachId": 39072, "type": "shoes"} ] }
    ],
    "aspectRatio": "3:4"
  })");
  CHECK(spec.job_type == "pipeline_stage");
  REQUIRE(spec.stages.size() == 2);
  CHECK(spec.aspect_ratio == std::optional<std::string>("3:4"));
  CHECK_FALSE(spec.module.has_value());
  auto& s0 = spec.stages[0];
  CHECK(s0.stage_index == 0);
  CHECK(s0.prompt == "Stage 0 prompt text");
  CHECK(s0.quantity == 2);
  REQUIRE(s0.inputs.size() == 2);
  CHECK(s0.inputs[0].attach_id == std::optional<int64_t>(39070));
  CHECK(s0.inputs[0].type == "model");
  CHECK(s0.inputs[1].attach_id == std::optional<int64_t>(39071));
  CHECK(s0.inputs[1].type == "top");
  auto& s1 = spec.stages[1];
  REQUIRE(s1.inputs.size() == 2);
  CHECK_FALSE(s1.inputs[0].attach_id.has_value());
  CHECK(s1.inputs[0].from_stage == std::optional<int>(0));
  CHECK(s1.inputs[0].from_index == 0);
  CHECK(s1.inputs[1].attach_id == std::optional<int64_t>(39072));
  CHECK(s1.dependencies() == std::vector<int>{0});
  CHECK(s0.dependencies().empty());
  CHECK(spec.total_images() == 4);
  CHECK(spec.largest_stage_index() == 1);
  CHECK(spec.attach_ids() == std::vector<int64_t>{39070, 39071, 39072});
  REQUIRE(spec.find_stage(1) != nullptr);
  CHECK(spec.find_stage(1)->prompt == "Stage 1 prompt text");
  CHECK(spec.find_stage(2) == nullptr);
}

TEST_CASE("a single_batch job is one flat stage named stage 0", "[parser]") {
  auto spec = parse_ok("single_batch", R"({"prompt": "four shots", "quantity": 4,
    "individualImageAttachIds": [{"attachId": 7.0, "type": "product"}],
    "aspectRatio": "1:1"})");
  CHECK(spec.job_type == "single_batch");
  REQUIRE(spec.stages.size() == 1);
  CHECK(spec.stages[0].stage_index == 0);
  CHECK(spec.stages[0].quantity == 4);
  CHECK(spec.stages[0].prompt == "four shots");
  CHECK(spec.stages[0].inputs.at(0).attach_id == std::optional<int64_t>(7));
  CHECK(spec.total_images() == 4);
  CHECK(spec.largest_stage_index() == 0);

  CHECK(parse_error("single_batch", R"({"prompt": "x", "quantity": 0})")
        == "stage 0: quantity 0 is out of range 1..16");
  CHECK(parse_error("single_batch",
                    R"({"prompt": "x", "quantity": 1,
                        "individualImageAttachIds": [{"attachId": "a1", "type": "model"}]})")
        == "stage 0, input 0: attachId \"a1\" is not a whole number "
           "(a string must hold decimal digits only)");
  CHECK(parse_error("single_batch",
                    R"({"prompt": "x", "quantity": 1,
                        "individualImageAttachIds": [{"fromStage": 0, "type": "model"}]})")
        == "stage 0, input 0: fromStage 0 names its own stage (cycle)");
}

TEST_CASE("attachId accepts integers, whole floats and digit strings", "[parser][ids]") {
  struct row { const char* raw; int64_t expected; };
  auto r = GENERATE(values<row>({
    {"39070", 39070},
    {"39070.0", 39070},
    {"1e3", 1000},
    {"1", 1},
    {"\"39070\"", 39070},
    {"\"0039070\"", 39070},
    {"9007199254740992", 9007199254740992},
    {"9007199254740992.0", 9007199254740992},
    {"\"9007199254740992\"", 9007199254740992},
  }));
  INFO("attachId " << r.raw);
  auto spec = parse_ok("pipeline_stage", one_input_job(std::string("\"attachId\": ") + r.raw));
  CHECK(spec.stages.at(0).inputs.at(0).attach_id == std::optional<int64_t>(r.expected));
}

TEST_CASE("attachId rejects everything else, naming stage, entry and value", "[parser][ids]") {
  const std::string range = " is out of range 1..9007199254740992";
  const std::string not_whole = " is not a whole number";
  const std::string beyond = " is beyond 2^53";
  const std::string digits_only = not_whole + " (a string must hold decimal digits only)";
  struct row { const char* raw; std::string message; };
  auto r = GENERATE_COPY(values<row>({
    {"39070.5", "attachId 39070.5" + not_whole},
    {"-1", "attachId -1" + range},
    {"-1.0", "attachId -1.0" + range},
    {"-0.5", "attachId -0.5" + not_whole},
    {"0", "attachId 0" + range},
    {"0.0", "attachId 0.0" + range},
    {"9007199254740993", "attachId 9007199254740993" + beyond},
    {"18446744073709551615", "attachId 18446744073709551615" + beyond},
    // Numbers are quoted as written, not as the double they became.
    {"9007199254740994.0", "attachId 9007199254740994.0" + beyond},
    {"1e20", "attachId 1e20" + beyond},
    {"true", "attachId true" + not_whole},
    {"false", "attachId false" + not_whole},
    {"null", "attachId null" + not_whole},
    {"[1]", "attachId [1]" + not_whole},
    {"{}", "attachId {}" + not_whole},
    {"\"abc\"", "attachId \"abc\"" + digits_only},
    {"\"\"", "attachId \"\"" + digits_only},
    {"\"39070.0\"", "attachId \"39070.0\"" + digits_only},
    {"\" 1\"", "attachId \" 1\"" + digits_only},
    {"\"-1\"", "attachId \"-1\"" + digits_only},
    {"\"0\"", "attachId \"0\"" + range},
    {"\"9007199254740993\"", "attachId \"9007199254740993\"" + beyond},
    {"\"99999999999999999999999\"", "attachId \"99999999999999999999999\"" + beyond},
  }));
  INFO("attachId " << r.raw);
  CHECK(parse_error("pipeline_stage", one_input_job(std::string("\"attachId\": ") + r.raw))
        == "stage 0, input 0: " + r.message);
}

TEST_CASE("an id error names the stage by stage_index and the entry by position",
          "[parser][ids]") {
  auto input = R"({"stages": [
    {"stage_index": 2, "prompt": "c", "quantity": 1,
     "individualImageAttachIds": [{"attachId": 1, "type": "model"},
                                  {"attachId": 39070.5, "type": "top"}]},
    {"stage_index": 0, "prompt": "a", "quantity": 1}]})";
  CHECK(parse_error("pipeline_stage", input)
        == "stage 2, input 1: attachId 39070.5 is not a whole number");
  CHECK(parse_error("pipeline_stage", R"({"stages": [
    {"stage_index": 0, "prompt": "a", "quantity": 1},
    {"stage_index": 1, "prompt": "b", "quantity": 1,
     "individualImageAttachIds": [{"type": "model"}]}]})")
        == "stage 1, input 0: attachId is missing");
}

TEST_CASE("an entry has exactly one of attachId and fromStage and a type", "[parser][ids]") {
  CHECK(parse_error("pipeline_stage",
                    one_input_job(R"("attachId": 1, "fromStage": 0)"))
        == "stage 0, input 0: has both attachId and fromStage (exactly one is allowed)");
  CHECK(parse_error("pipeline_stage", one_input_job(R"("index": 0)"))
        == "stage 0, input 0: attachId is missing");
  CHECK(parse_error("pipeline_stage", stage_job(R"("individualImageAttachIds": [5])"))
        == "stage 0, input 0: entry 5 is not an object");
  CHECK(parse_error("pipeline_stage", stage_job(
          R"("individualImageAttachIds": [{"attachId": 1}])"))
        == "stage 0, input 0: type is missing");
  CHECK(parse_error("pipeline_stage", stage_job(
          R"("individualImageAttachIds": [{"attachId": 1, "type": ""}])"))
        == "stage 0, input 0: type is empty");
  CHECK(parse_error("pipeline_stage", stage_job(
          R"("individualImageAttachIds": [{"attachId": 1, "type": 3}])"))
        == "stage 0, input 0: type 3 is not a string");
  CHECK(parse_error("pipeline_stage", stage_job(R"("individualImageAttachIds": {})"))
        == "stage 0: individualImageAttachIds {} is not an array");
}

TEST_CASE("fromStage and index take the same whole-number forms, >= 0", "[parser][ids]") {
  auto two_stage = [](const std::string& ref) {
    return R"({"stages": [{"stage_index": 0, "prompt": "a", "quantity": 3},
      {"stage_index": 1, "prompt": "b", "quantity": 1,
       "individualImageAttachIds": [{)" + ref + R"(, "type": "model"}]}]})";
  };
  for (auto ok : {R"("fromStage": 0)", R"("fromStage": 0.0)", R"("fromStage": "0")",
                  R"("fromStage": 0, "index": 2)", R"("fromStage": 0, "index": 2.0)",
                  R"("fromStage": 0, "index": "2")"}) {
    INFO(ok);
    auto spec = parse_ok("pipeline_stage", two_stage(ok));
    auto& in = spec.stages.at(1).inputs.at(0);
    CHECK(in.from_stage == std::optional<int>(0));
    CHECK_FALSE(in.attach_id.has_value());
  }
  CHECK(parse_ok("pipeline_stage", two_stage(R"("fromStage": 0, "index": "2")"))
          .stages[1].inputs[0].from_index == 2);
  CHECK(parse_ok("pipeline_stage", two_stage(R"("fromStage": 0)"))
          .stages[1].inputs[0].from_index == 0);
  CHECK(parse_error("pipeline_stage", two_stage(R"("fromStage": -1)"))
        == "stage 1, input 0: fromStage -1 is out of range 0..9007199254740992");
  CHECK(parse_error("pipeline_stage", two_stage(R"("fromStage": 0.5)"))
        == "stage 1, input 0: fromStage 0.5 is not a whole number");
  CHECK(parse_error("pipeline_stage", two_stage(R"("fromStage": true)"))
        == "stage 1, input 0: fromStage true is not a whole number");
  CHECK(parse_error("pipeline_stage", two_stage(R"("fromStage": 0, "index": -1)"))
        == "stage 1, input 0: index -1 is out of range 0..9007199254740992");
  CHECK(parse_error("pipeline_stage", two_stage(R"("fromStage": 0, "index": "1.0")"))
        == "stage 1, input 0: index \"1.0\" is not a whole number "
           "(a string must hold decimal digits only)");
}

TEST_CASE("stage_index is required, whole, >= 0 and unique, and order does not matter",
          "[parser][stages]") {
  auto spec = parse_ok("pipeline_stage", R"({"stages": [
    {"stage_index": 2, "prompt": "two", "quantity": 1},
    {"stage_index": 0.0, "prompt": "zero", "quantity": 1},
    {"stage_index": "1", "prompt": "one", "quantity": 2}]})");
  REQUIRE(spec.stages.size() == 3);
  CHECK(spec.stages[0].stage_index == 0);
  CHECK(spec.stages[0].prompt == "zero");
  CHECK(spec.stages[1].stage_index == 1);
  CHECK(spec.stages[1].prompt == "one");
  CHECK(spec.stages[2].stage_index == 2);
  CHECK(spec.stages[2].prompt == "two");
  CHECK(spec.total_images() == 4);

  // Gaps are allowed: stage_index names a stage, it is not a position.
  auto gap = parse_ok("pipeline_stage", R"({"stages": [
    {"stage_index": 5, "prompt": "b", "quantity": 1,
     "individualImageAttachIds": [{"fromStage": 3, "type": "model"}]},
    {"stage_index": 3, "prompt": "a", "quantity": 1}]})");
  CHECK(gap.largest_stage_index() == 5);
  CHECK(gap.stages[1].dependencies() == std::vector<int>{3});

  CHECK(parse_error("pipeline_stage", R"({"stages": [
    {"stage_index": 0, "prompt": "a", "quantity": 1},
    {"prompt": "b", "quantity": 1}]})")
        == "stage at position 1: stage_index is missing");
  CHECK(parse_error("pipeline_stage", R"({"stages": [
    {"stage_index": -1, "prompt": "a", "quantity": 1}]})")
        == "stage at position 0: stage_index -1 is out of range 0..2147483647");
  CHECK(parse_error("pipeline_stage", R"({"stages": [
    {"stage_index": 0.5, "prompt": "a", "quantity": 1}]})")
        == "stage at position 0: stage_index 0.5 is not a whole number");
  CHECK(parse_error("pipeline_stage", R"({"stages": [
    {"stage_index": 1, "prompt": "a", "quantity": 1},
    {"stage_index": 0, "prompt": "b", "quantity": 1},
    {"stage_index": 1.0, "prompt": "c", "quantity": 1}]})")
        == "stage_index 1 is used twice (positions 0 and 2)");
  CHECK(parse_error("pipeline_stage", R"({"stages": [7]})")
        == "stage at position 0 is not an object: 7");
}

TEST_CASE("stage shape: stages, prompt and quantity must be present and typed",
          "[parser][stages]") {
  CHECK(parse_error("pipeline_stage", "{}") == "stages is missing");
  CHECK(parse_error("pipeline_stage", R"({"stages": {}})") == "stages {} is not an array");
  CHECK(parse_error("pipeline_stage", R"({"stages": []})")
        == "stages is empty (at least 1 stage is needed)");
  CHECK(parse_error("pipeline_stage", R"({"stages": [{"stage_index": 0, "quantity": 1}]})")
        == "stage 0: prompt is missing");
  CHECK(parse_error("pipeline_stage",
                    R"({"stages": [{"stage_index": 0, "prompt": 5, "quantity": 1}]})")
        == "stage 0: prompt 5 is not a string");
  CHECK(parse_error("pipeline_stage",
                    R"({"stages": [{"stage_index": 0, "prompt": "", "quantity": 1}]})")
        == "stage 0: prompt is empty");
  CHECK(parse_error("pipeline_stage", R"({"stages": [{"stage_index": 3, "prompt": "p"}]})")
        == "stage 3: quantity is missing");
  CHECK(parse_error("pipeline_stage",
                    R"({"stages": [{"stage_index": 3, "prompt": "p", "quantity": 1.5}]})")
        == "stage 3: quantity 1.5 is not a whole number");
  CHECK(parse_ok("pipeline_stage",
                 R"({"stages": [{"stage_index": 0, "prompt": "p", "quantity": "3"}]})")
          .stages[0].quantity == 3);
  // A text-only stage: no inputs at all, or an empty list.
  CHECK(parse_ok("pipeline_stage", stage_job("")).stages[0].inputs.empty());
  CHECK(parse_ok("pipeline_stage", stage_job(R"("individualImageAttachIds": [])"))
          .stages[0].inputs.empty());
}

TEST_CASE("job_type, input shape, aspectRatio and module", "[parser]") {
  auto valid = stage_job("");
  CHECK(parse_error("batch", valid)
        == "job_type \"batch\" is not one of pipeline_stage, single_batch");
  CHECK(parse_error("", valid) == "job_type \"\" is not one of pipeline_stage, single_batch");
  CHECK(parse_error("Pipeline_Stage", valid)
        == "job_type \"Pipeline_Stage\" is not one of pipeline_stage, single_batch");
  CHECK(parse_error("pipeline_stage", "[]") == "job_input_data [] is not a JSON object");
  CHECK(parse_error("single_batch", "\"x\"") == "job_input_data \"x\" is not a JSON object");
  CHECK(parse_error("single_batch", "null") == "job_input_data null is not a JSON object");
  CHECK(parse_error("single_batch", "{not json") == "job_input_data is not valid JSON");

  auto with = [](const std::string& field) {
    return R"({"prompt": "p", "quantity": 1, )" + field + "}";
  };
  for (auto ratio : {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}) {
    INFO(ratio);
    auto spec = parse_ok("single_batch", with(std::string("\"aspectRatio\": \"") + ratio + "\""));
    CHECK(spec.aspect_ratio == std::optional<std::string>(ratio));
  }
  CHECK_FALSE(parse_ok("single_batch", R"({"prompt": "p", "quantity": 1})")
                .aspect_ratio.has_value());
  const std::string list = " is not one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9";
  CHECK(parse_error("single_batch", with(R"("aspectRatio": "7:3")"))
        == "aspectRatio \"7:3\"" + list);
  CHECK(parse_error("single_batch", with(R"("aspectRatio": "1:1 ")"))
        == "aspectRatio \"1:1 \"" + list);
  CHECK(parse_error("single_batch", with(R"("aspectRatio": 1)")) == "aspectRatio 1" + list);
  CHECK(parse_error("single_batch", with(R"("aspectRatio": null)"))
        == "aspectRatio null" + list);

  CHECK(parse_ok("single_batch", with(R"("module": "fashion")")).module
        == std::optional<std::string>("fashion"));
  CHECK(parse_ok("single_batch", with(R"("module": "beauty")"), "beauty").module
        == std::optional<std::string>("beauty"));
  CHECK(parse_error("single_batch", with(R"("module": "Fashion")"))
        == "module \"Fashion\" is not a configured module");
  CHECK(parse_error("single_batch", with(R"("module": "shoes")"))
        == "module \"shoes\" is not a configured module");
  CHECK(parse_error("single_batch", with(R"("module": "beauty")"))
        == "module \"beauty\" does not match the queue's module \"fashion\"");
  CHECK(parse_error("single_batch", with(R"("module": 5)")) == "module 5 is not a string");
  CHECK(parse_error("single_batch", with(R"("module": null)")) == "module null is not a string");
}

TEST_CASE("long values are shortened in messages without breaking UTF-8", "[parser]") {
  std::string long_type;
  for (int i = 0; i < 100; ++i)
    long_type += "\xC3\xA9"; // é
  auto message = parse_error("pipeline_stage", stage_job(
    R"("individualImageAttachIds": [{"attachId": 1, "type": [")" + long_type + R"("]}])"));
  CHECK(message.rfind("stage 0, input 0: type [\"", 0) == 0);
  CHECK(message.find("...") != std::string::npos);
  CHECK(message.size() < 200);
  CHECK_NOTHROW(json::parse(json(message).dump())); // still valid UTF-8
}
