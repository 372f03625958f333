// The logger makes every line safe whatever its callers pass: one line per
// event (no forged lines), no control characters, no secrets, bounded size,
// valid JSON in the JSON format.
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/secret_text.hpp"
#include "tests/support/captured_stderr.hpp"

using namespace quel;

namespace {

/// What `fn` writes to stderr in `f` format.
template <class Fn>
std::string captured_log(log::format f, Fn fn) {
  return test::captured_stderr([&] {
    log::set_format(f);
    fn();
    log::set_format(log::format::human);
  });
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

} // namespace

TEST_CASE("an id or a type with newlines and escape codes cannot forge a human line",
          "[logs]") {
  const std::string forged_id = "job-1\n2026-01-01T00:00:00.000Z info Job finished: all paid";
  auto out = captured_log(log::format::human, [&] {
    log::job_info(forged_id, "Downloading image: AttachID=1, Type=model\r\x1b[2K\x1b[1Ahidden",
                  {{"key", "a\nb"}});
  });
  auto lines = lines_of(out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("job=job-1\\n2026-01-01", 0) == 0);
  CHECK(lines[0].find('\x1b') == std::string::npos);
  CHECK(lines[0].find('\r') == std::string::npos);
  CHECK(lines[0].find("Type=model\\r\\x1b[2K\\x1b[1Ahidden") != std::string::npos);
  CHECK(lines[0].find("key=a\\nb") != std::string::npos);
}

TEST_CASE("long ids, messages and field values are clipped in both formats", "[logs]") {
  const std::string reply(90 * 1000 * 1000, 't');  // a model's 90 MB text reply
  for (auto f : {log::format::human, log::format::json}) {
    auto out = captured_log(f, [&] {
      log::job_warn(std::string(5000, 'i'), "Gemini call failed: " + reply,
                    {{"detail", reply}});
    });
    INFO("format " << static_cast<int>(f));
    CHECK(out.size() < 8000);
    CHECK(out.find("truncated, 90000000 bytes") != std::string::npos);
    CHECK(out.find(std::string(201, 'i')) == std::string::npos);
  }
}

TEST_CASE("JSON lines stay one valid object with hostile text", "[logs]") {
  auto out = captured_log(log::format::json, [] {
    log::job_error("id\n\"}{", "bad \x1b[0m\n\xff\xfe bytes", {{"type", "x\"\n{"}});
  });
  auto lines = lines_of(out);
  REQUIRE(lines.size() == 1);
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["job_id"] == "id\n\"}{");
  CHECK(j["type"] == "x\"\n{");
}

TEST_CASE("JSON lines keep numbers as numbers and every other value as text", "[logs]") {
  auto out = captured_log(log::format::json, [] {
    log::job_info("j", "Stage 0 completed",
                  {{"duration_ms", "1234"}, {"stage", "0"}, {"ratio", "-2.5"},
                   {"padded", "007"}, {"big", "123456789012345678901234"},
                   {"uuid", "3f2a0000-0000-4000-8000-000000000000"}, {"word", "12a"},
                   {"empty", ""}});
  });
  auto lines = lines_of(out);
  REQUIRE(lines.size() == 1);
  auto j = nlohmann::json::parse(lines[0]);
  CHECK(j["duration_ms"] == 1234);
  CHECK(j["stage"] == 0);
  CHECK(j["ratio"] == -2.5);
  // Text that only looks numeric keeps its exact spelling.
  CHECK(j["padded"] == "007");
  CHECK(j["big"] == "123456789012345678901234");
  CHECK(j["uuid"] == "3f2a0000-0000-4000-8000-000000000000");
  CHECK(j["word"] == "12a");
  CHECK(j["empty"] == "");
  // The human format is unchanged: key=value text.
  auto human = captured_log(log::format::human,
                            [] { log::job_info("j", "done", {{"duration_ms", "1234"}}); });
  CHECK(human.rfind("job=j done duration_ms=1234 ts=", 0) == 0);
}

TEST_CASE("known secrets and secret forms never reach a log line", "[logs][secrets]") {
  clear_registered_secrets();
  register_secret("sb_secret_known_value");
  for (auto f : {log::format::human, log::format::json}) {
    auto out = captured_log(f, [] {
      log::warn("storage said: invalid key sb_secret_known_value",
                {{"url", "https://g.example/v1?key=AIzaQUERYKEY"},
                 {"database", "host=h password='two words'"}});
      log::job_error("j", "upstream body: {\"apikey\": \"sb_secret_known_value\"}");
    });
    CHECK(out.find("sb_secret_known_value") == std::string::npos);
    CHECK(out.find("AIzaQUERYKEY") == std::string::npos);
    CHECK(out.find("two words") == std::string::npos);
    CHECK(out.find("***") != std::string::npos);
  }
  clear_registered_secrets();
}
