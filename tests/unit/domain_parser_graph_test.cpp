// The stage graph and the limits of job input (CONTRACT.md section 3, rule 10).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "domain/job_parser.hpp"
#include "tests/unit/domain_parser_support.hpp"

using namespace quel;
using namespace quel::test;
using nlohmann::json;

namespace {

/// A stage object; `refs` are (fromStage, index) pairs.
json stage(int index, int quantity, std::vector<std::pair<int, int>> refs = {}) {
  json inputs = json::array();
  for (auto [from, image] : refs)
    inputs.push_back({{"fromStage", from}, {"index", image}, {"type", "model"}});
  return {{"stage_index", index}, {"prompt", "stage " + std::to_string(index)},
          {"quantity", quantity}, {"individualImageAttachIds", inputs}};
}

std::string job(std::vector<json> stages) {
  return json{{"stages", stages}}.dump();
}

std::string repeat(const std::string& unit, int times) {
  std::string text;
  for (int i = 0; i < times; ++i)
    text += unit;
  return text;
}

} // namespace

TEST_CASE("references must name an existing stage and an image it makes", "[parser][graph]") {
  auto spec = parse_ok("pipeline_stage", job({stage(0, 2), stage(1, 1, {{0, 1}})}));
  CHECK(spec.stages[1].inputs[0].from_index == 1);

  CHECK(parse_error("pipeline_stage", job({stage(0, 2), stage(1, 1, {{5, 0}})}))
        == "stage 1, input 0: fromStage 5 names no stage of this job");
  CHECK(parse_error("pipeline_stage", job({stage(0, 2), stage(1, 1, {{0, 2}})}))
        == "stage 1, input 0: index 2 is out of range 0..1 of stage 0 (quantity 2)");
  CHECK(parse_error("pipeline_stage", job({stage(0, 1), stage(1, 1, {{0, 0}, {0, 1}})}))
        == "stage 1, input 1: index 1 is out of range 0..0 of stage 0 (quantity 1)");
  CHECK(parse_error("pipeline_stage", job({stage(0, 1), stage(1, 1, {{1, 0}})}))
        == "stage 1, input 0: fromStage 1 names its own stage (cycle)");
}

TEST_CASE("cycles between stages are rejected naming their stages", "[parser][graph]") {
  CHECK(parse_error("pipeline_stage", job({stage(0, 1, {{1, 0}}), stage(1, 1, {{0, 0}})}))
        == "stages 0 and 1 depend on each other (cycle)");
  CHECK(parse_error("pipeline_stage",
                    job({stage(4, 1), stage(2, 1, {{1, 0}}), stage(0, 1, {{2, 0}}),
                         stage(1, 1, {{0, 0}, {4, 0}})}))
        == "stages 0, 1 and 2 depend on each other (cycle)");
  // A diamond shares a dependency but has no cycle.
  auto diamond = parse_ok("pipeline_stage",
                          job({stage(0, 1), stage(1, 1, {{0, 0}}), stage(2, 1, {{0, 0}}),
                               stage(3, 1, {{1, 0}, {2, 0}, {1, 0}})}));
  CHECK(diamond.stages[3].dependencies() == std::vector<int>{1, 2});
}

TEST_CASE("limits hold at the boundary and fail just past it", "[parser][limits]") {
  SECTION("stages") {
    std::vector<json> stages;
    for (int i = 0; i < 16; ++i)
      stages.push_back(stage(i, 1));
    CHECK(parse_ok("pipeline_stage", job(stages)).stages.size() == 16);
    stages.push_back(stage(16, 1));
    CHECK(parse_error("pipeline_stage", job(stages)) == "17 stages, more than 16");
  }
  SECTION("quantity") {
    CHECK(parse_ok("pipeline_stage", job({stage(0, 1), stage(2, 16)})).total_images() == 17);
    CHECK(parse_error("pipeline_stage", job({stage(0, 1), stage(2, 17)}))
          == "stage 2: quantity 17 is out of range 1..16");
    CHECK(parse_error("pipeline_stage", job({stage(2, -3)}))
          == "stage 2: quantity -3 is out of range 1..16");
  }
  SECTION("inputs") {
    auto with_inputs = [](int count) {
      json inputs = json::array();
      for (int i = 0; i < count; ++i)
        inputs.push_back({{"attachId", 100 + i}, {"type", "style"}});
      return json{{"stages", {{{"stage_index", 0}, {"prompt", "p"}, {"quantity", 1},
                               {"individualImageAttachIds", inputs}}}}}.dump();
    };
    auto spec = parse_ok("pipeline_stage", with_inputs(16));
    CHECK(spec.stages[0].inputs.size() == 16);
    CHECK(spec.attach_ids().size() == 16);
    CHECK(parse_error("pipeline_stage", with_inputs(17)) == "stage 0: 17 inputs, more than 16");
  }
  SECTION("prompt length counts Unicode code points, not bytes") {
    auto with_prompt = [](const std::string& prompt) {
      return json{{"prompt", prompt}, {"quantity", 1}}.dump();
    };
    auto two_byte = repeat("\xC3\xA9", 20000);         // é: 40000 bytes
    auto four_byte = repeat("\xF0\x9F\x98\x80", 20000); // 😀: 80000 bytes
    CHECK(parse_ok("single_batch", with_prompt(two_byte)).stages[0].prompt == two_byte);
    CHECK(parse_ok("single_batch", with_prompt(four_byte)).stages[0].prompt == four_byte);
    CHECK(parse_ok("single_batch", with_prompt(repeat("a", 20000))).stages[0].prompt.size()
          == 20000);
    CHECK(parse_error("single_batch", with_prompt(two_byte + "x"))
          == "stage 0: prompt has 20001 characters, more than 20000");
    CHECK(parse_error("single_batch", with_prompt(repeat("a", 20001)))
          == "stage 0: prompt has 20001 characters, more than 20000");
  }
  SECTION("configured limits replace the defaults") {
    job_limits small;
    small.max_stages = 2;
    small.max_quantity = 3;
    small.max_inputs = 1;
    // "stage 1" plus its input line "Image 1 (model): model" and a blank
    // line: the whole text sent to the model fits exactly.
    small.max_prompt_chars = 31;
    CHECK(parse_ok("pipeline_stage", job({stage(0, 3), stage(1, 3, {{0, 2}})}), "fashion", small)
            .total_images() == 6);
    CHECK(parse_error("pipeline_stage", job({stage(0, 1), stage(1, 1), stage(2, 1)}),
                      "fashion", small)
          == "3 stages, more than 2");
    CHECK(parse_error("pipeline_stage", job({stage(0, 4)}), "fashion", small)
          == "stage 0: quantity 4 is out of range 1..3");
    CHECK(parse_error("pipeline_stage", job({stage(0, 1), stage(1, 1, {{0, 0}, {0, 0}})}),
                      "fashion", small)
          == "stage 1: 2 inputs, more than 1");
    CHECK(parse_error("single_batch",
                      json{{"prompt", std::string(32, 'p')}, {"quantity", 1}}.dump(), "fashion",
                      small)
          == "stage 0: prompt has 32 characters, more than 31");
  }
}
