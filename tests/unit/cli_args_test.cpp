// The command line of quel-worker (app/cli_args): flags never swallow the
// next argument, options take `=value` or the next argument, and every
// command has help.
#include <catch2/catch.hpp>

#include <vector>

#include "app/cli_args.hpp"

namespace {

quel::cli_args parse(std::vector<std::string> words) {
  std::vector<char*> argv;
  static std::string program = "quel-worker";
  argv.push_back(program.data());
  for (auto& w : words)
    argv.push_back(w.data());
  return quel::cli_args::parse(static_cast<int>(argv.size()), argv.data());
}

} // namespace

TEST_CASE("flags take no value and leave the next argument positional", "[cli]") {
  auto a = parse({"status", "--json", "3f2a9c41-0000-4000-8000-000000000000"});
  CHECK(a.command == "status");
  CHECK(a.flag("json"));
  CHECK(a.positional == std::vector<std::string>{"3f2a9c41-0000-4000-8000-000000000000"});
  CHECK(a.options.empty());

  auto w = parse({"status", "--watch", "--interval", "0.5"});
  CHECK(w.flag("watch"));
  CHECK(w.options.at("interval") == "0.5");
  CHECK(w.positional.empty());

  CHECK(parse({"run", "--drain"}).drain);
  CHECK(parse({"requeue-dead", "--all"}).flag("all"));
  CHECK_THROWS_WITH(parse({"status", "--json=yes"}), Catch::Contains("--json takes no value"));
}

TEST_CASE("options take =value or the next argument", "[cli]") {
  auto a = parse({"enqueue", "--module", "beauty", "id1", "--redis.url=redis://h:1/0", "id2"});
  CHECK(a.options.at("module") == "beauty");
  CHECK(a.options.at("redis.url") == "redis://h:1/0");
  CHECK(a.positional == std::vector<std::string>{"id1", "id2"});
  CHECK_THROWS_WITH(parse({"cancel", "--timeout"}), Catch::Contains("--timeout needs a value"));
  CHECK_THROWS_WITH(parse({"run", "--=x"}), Catch::Contains("empty option name"));
}

TEST_CASE("--help and --version are recognised anywhere", "[cli]") {
  auto h = parse({"retry", "--help"});
  CHECK(h.help);
  CHECK(h.command == "retry");
  CHECK(parse({"-h"}).help);
  CHECK(parse({"--version"}).version);
  CHECK(quel::version_text().rfind("quel-worker ", 0) == 0);
  CHECK(quel::version_text().find("\ncommit ") != std::string::npos);
  CHECK(quel::version_text().find("\nbuild ") != std::string::npos);
}

TEST_CASE("every command in the usage has its own help", "[cli]") {
  for (auto* c : {"migrate", "run", "serve-generator", "enqueue", "status", "retry", "cancel",
                  "pause", "resume",
                  "requeue-dead", "config", "help"}) {
    INFO(c);
    auto text = quel::command_help(c);
    CHECK(text.rfind(std::string{"usage: quel-worker "} + c, 0) == 0);
    CHECK(std::string{quel::usage_text()}.find(std::string{"  "} + c) != std::string::npos);
  }
  CHECK(quel::command_help("frobnicate").empty());
}

TEST_CASE("a command's own options are known so they are not read as configuration",
          "[cli]") {
  CHECK(quel::command_options("status") == std::vector<std::string>{"interval"});
  CHECK(quel::command_options("cancel") == std::vector<std::string>{"timeout"});
  CHECK(quel::command_options("enqueue") == std::vector<std::string>{"module"});
  CHECK(quel::command_options("run").empty());
}
