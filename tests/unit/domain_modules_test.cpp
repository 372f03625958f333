// Module catalog from config/modules.ini, the INI parser beneath it, and the
// prompt built for the model (CONTRACT.md sections 2 and 5).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/ini_file.hpp"
#include "domain/module_catalog.hpp"
#include "domain/prompt_builder.hpp"

using namespace quel;

namespace {

std::string shipped_modules_ini() {
  std::ifstream in(std::string(QUEL_SOURCE_DIR) + "/config/modules.ini");
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string error_of(const std::string& ini) {
  try {
    module_catalog::from_ini(ini);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("expected from_ini to throw for: " << ini);
  return {};
}

} // namespace

TEST_CASE("ini_file reads sections, keys, comments and overrides", "[ini]") {
  auto ini = ini_file::parse("top = level\n"
                             "; a comment\n"
                             "# another = comment\n"
                             "\n"
                             "  [ worker ]  \n"
                             "  lease_ttl   =  30  \r\n"
                             "url = redis://h:1/0?a=b ; not a comment\n"
                             "empty =\n"
                             "lease_ttl = 2.5\n"
                             "[limits]\n"
                             "max_stages=16");
  CHECK(ini.get("top") == std::optional<std::string>("level"));
  CHECK(ini.get("worker.lease_ttl") == std::optional<std::string>("2.5"));
  CHECK(ini.line_of("worker.lease_ttl") == 9);
  CHECK(ini.get("worker.url") == std::optional<std::string>("redis://h:1/0?a=b ; not a comment"));
  CHECK(ini.get("worker.empty") == std::optional<std::string>(""));
  CHECK(ini.get("limits.max_stages") == std::optional<std::string>("16"));
  CHECK_FALSE(ini.get("another").has_value());
  CHECK_FALSE(ini.get("lease_ttl").has_value());
  CHECK(ini.sections() == std::vector<std::string>{"worker", "limits"});
  CHECK(ini.entries().size() == 5);
}

TEST_CASE("ini_file names the line of a malformed entry", "[ini]") {
  auto message = [](const std::string& text) -> std::string {
    try {
      ini_file::parse(text);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no error";
  };
  CHECK(message("[a]\nk = v\njust words\n")
        == "line 3: expected 'key = value', got 'just words'");
  CHECK(message("\n[broken\n") == "line 2: section header without closing ']'");
  CHECK(message("[ ]\n") == "line 1: empty section name");
  CHECK(message("[a]\n = v\n") == "line 2: missing key before '='");
}

TEST_CASE("the shipped modules.ini defines the six modules and their queues", "[modules]") {
  auto catalog = module_catalog::from_ini(shipped_modules_ini());
  std::vector<std::pair<std::string, std::string>> expected = {
    {"fashion", "jobs:queue"},        {"beauty", "jobs:queue:beauty"},
    {"cinema", "jobs:queue:cinema"},  {"cartoon", "jobs:queue:cartoon"},
    {"eats", "jobs:queue:eats"},      {"generate-image", "jobs:queue:generate-image"}};
  REQUIRE(catalog.all().size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    auto& m = catalog.all()[i];
    CHECK(m.name == expected[i].first);
    CHECK(m.queue == expected[i].second);
    CHECK(m.credits_per_image == 1);
    CHECK_FALSE(m.preamble.empty());
    CHECK(catalog.by_queue(m.queue) == &m);
    CHECK(catalog.find(m.name) == &m);
  }
  auto* fashion = catalog.find("fashion");
  REQUIRE(fashion != nullptr);
  CHECK(fashion->describe("shoes") == "shoes the model must wear");
  CHECK(fashion->describe("spaceship") == "spaceship");
  CHECK(catalog.find("Fashion") == nullptr);
  CHECK(catalog.by_queue("jobs:queue:Beauty") == nullptr);
  CHECK(catalog.find("generate-image")->categories.empty());
}

TEST_CASE("module defaults: queue from the name, cost 1", "[modules]") {
  auto catalog = module_catalog::from_ini("[module.fashion]\n[module.toys]\n"
                                          "credits_per_image = 3\ncategory.box = the box\n");
  REQUIRE(catalog.all().size() == 2);
  CHECK(catalog.find("fashion")->queue == "jobs:queue");
  CHECK(catalog.find("fashion")->credits_per_image == 1);
  CHECK(catalog.find("toys")->queue == "jobs:queue:toys");
  CHECK(catalog.find("toys")->credits_per_image == 3);
  CHECK(catalog.find("toys")->describe("box") == "the box");
}

TEST_CASE("set_cost_for_all and keep_only change the catalog", "[modules]") {
  auto catalog = module_catalog::from_ini(shipped_modules_ini());
  catalog.set_cost_for_all(7);
  for (auto& m : catalog.all())
    CHECK(m.credits_per_image == 7);
  CHECK_THROWS_AS(catalog.set_cost_for_all(-1), std::invalid_argument);

  catalog.keep_only({"eats", "beauty"});
  REQUIRE(catalog.all().size() == 2);
  CHECK(catalog.all()[0].name == "beauty");
  CHECK(catalog.all()[1].name == "eats");
  CHECK(catalog.find("fashion") == nullptr);
  CHECK(catalog.by_queue("jobs:queue") == nullptr);
  CHECK_THROWS_WITH(catalog.keep_only({"fashion"}),
                    "module 'fashion' is not a configured module");
  CHECK(catalog.all().size() == 2);
}

TEST_CASE("malformed modules.ini is refused naming the line", "[modules]") {
  CHECK(error_of("[module.a]\nqeue = x\n") == "line 2: unknown key 'qeue' in [module.a]");
  CHECK(error_of("[module.a]\n\ncredits_per_image = 1.5\n")
        == "line 3: credits_per_image '1.5' is not a whole number >= 0");
  CHECK(error_of("[module.a]\ncredits_per_image = -1\n")
        == "line 2: credits_per_image '-1' is not a whole number >= 0");
  CHECK(error_of("x = 1\n[module.a]\n")
        == "line 1: key 'x' is outside a [module.NAME] section");
  CHECK(error_of("[module.a]\n[worker]\n") == "line 2: section [worker] is not [module.NAME]");
  CHECK(error_of("[module.a]\nqueue = q\n[module.b]\nqueue = q\n")
        == "line 3: modules 'a' and 'b' share the queue 'q'");
  CHECK(error_of("[module.a]\nqueue =\n") == "line 2: queue of module 'a' is empty");
  CHECK(error_of("[module.a.b]\n") == "line 1: module name 'a.b' is empty or contains '.'");
  CHECK(error_of("[module.a\n") == "line 1: section header without closing ']'");
  CHECK(error_of("; nothing\n") == "no [module.NAME] section defines a module");
}

TEST_CASE("the prompt has the preamble, one line per input in order, then the stage prompt",
          "[prompt]") {
  auto catalog = module_catalog::from_ini(shipped_modules_ini());
  auto& fashion = *catalog.find("fashion");
  stage_spec stage;
  stage.prompt = "Put the model in the red top.\n  Keep \"quotes\", {braces} & 100% of this.";
  stage.inputs = {{39070, std::nullopt, 0, "model"},
                  {std::nullopt, 0, 1, "top"},
                  {39072, std::nullopt, 0, "hat"}};
  auto text = build_prompt(fashion, stage);
  auto expected = fashion.preamble + "\n\n"
                  + "Image 1 (model): " + fashion.describe("model") + "\n"
                  + "Image 2 (top): " + fashion.describe("top") + "\n"
                  + "Image 3 (hat): hat\n\n" + stage.prompt;
  CHECK(text == expected);
  CHECK(text.find(stage.prompt) != std::string::npos);
  CHECK(text.rfind(fashion.preamble, 0) == 0);
  CHECK(text.find("Image 1") < text.find("Image 2"));
  CHECK(text.find("Image 2") < text.find("Image 3"));

  // Text-only stage of a module without categories.
  stage_spec plain;
  plain.prompt = "a lighthouse at dusk";
  auto& generate = *catalog.find("generate-image");
  CHECK(build_prompt(generate, plain) == generate.preamble + "\n\n" + plain.prompt);
  module_config bare;
  CHECK(build_prompt(bare, plain) == plain.prompt);
}
