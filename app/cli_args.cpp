#include "app/cli_args.hpp"

#include <stdexcept>

namespace quel {

cli_args cli_args::parse(int argc, char** argv) {
  cli_args out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      out.help = true;
    } else if (arg == "--drain") {
      out.drain = true;
    } else if (arg == "--all") {
      out.options["all"] = "true";  // requeue-dead --all
    } else if (arg.rfind("--", 0) == 0) {
      auto eq = arg.find('=');
      auto name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (name.empty())
        throw std::invalid_argument("empty option name in \"" + arg + "\"");
      if (eq != std::string::npos) {
        out.options[name] = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        out.options[name] = argv[++i];  // --module beauty
      } else {
        throw std::invalid_argument("option --" + name + " needs a value");
      }
    } else if (out.command.empty()) {
      out.command = arg;
    } else {
      out.positional.push_back(arg);
    }
  }
  return out;
}

const char* usage_text() {
  return R"(usage: quel-worker COMMAND [options]

commands:
  migrate                      apply the worker's own migrations (safe to repeat)
  run [--drain]                take and process jobs until SIGTERM/SIGINT; with
                               --drain, until every queue is empty and nothing
                               is in flight, then exit 0
  enqueue [--module M] ID...   push job ids onto their module's queue
  status                       queue depths, jobs in flight, dead letters
  requeue-dead [--all | ID...] push dead-lettered ids back onto their queues

options:
  --config=PATH                a configuration file (see config/worker.ini)
  --log-format=human|json      log format (default human)
  --SECTION.KEY=VALUE          any key of config/worker.ini
)";
}

} // namespace quel
