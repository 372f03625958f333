#include "app/cli_args.hpp"

#include <stdexcept>

#include "app/build_info.hpp"

namespace quel {

namespace {

// Options that never take a value: `--json X` must not swallow X.
const std::set<std::string>& flag_names() {
  static const std::set<std::string> names = {"all", "drain", "json", "watch"};
  return names;
}

struct command_doc {
  const char* name;
  const char* synopsis;
  const char* text;
  std::vector<std::string> options;  // value options of its own
};

const std::vector<command_doc>& commands() {
  static const std::vector<command_doc> docs = {
    {"migrate", "migrate",
     "Applies the worker's own migrations (tables, indexes and SQL functions\n"
     "beside the production schema). Safe to repeat; several at once wait for\n"
     "each other.\n",
     {}},
    {"run", "run [--drain]",
     "Takes ids off the queues of the modules served and processes their jobs\n"
     "until SIGTERM/SIGINT, then finishes the jobs in flight and exits 0.\n"
     "  --drain   exit 0 once every queue is empty, no expired worker's ids or\n"
     "            jobs remain to take over, and nothing is in flight\n",
     {}},
    {"serve-generator", "serve-generator",
     "Runs a generator node: hosts generate actors (generator.backend, with\n"
     "generator.concurrency calls at once) and publishes them on mesh.listen\n"
     "for workers whose mesh.generators names this host:port. It needs no\n"
     "Redis, PostgreSQL or storage; workers send it requests and store and\n"
     "charge the images themselves. Runs until SIGTERM/SIGINT. Use the same\n"
     "mesh.heartbeat_interval and mesh.connection_timeout as the workers.\n",
     {}},
    {"enqueue", "enqueue [--module M] JOB_ID...",
     "Pushes job ids onto a queue, as producers do: onto module M's queue with\n"
     "--module, else onto the queue of the job's job_input_data.module, else\n"
     "fashion's.\n",
     {"module"}},
    {"status", "status [--json] [--watch [--interval=S]] [JOB_ID]",
     "Without JOB_ID: each queue's waiting ids and the age of the oldest one,\n"
     "whether the queue is paused, the jobs in flight with a progress bar, the\n"
     "nodes and the dead letters.\n"
     "With JOB_ID: that job's row, every stage and image with its outcome,\n"
     "reason, output key and attach id, its lease and claims, its credit holds\n"
     "and its credit-log rows.\n"
     "  --json        print one JSON document instead of text\n"
     "  --watch       redraw every --interval seconds (default 2) until Ctrl-C\n"
     "  --interval=S  seconds between redraws of --watch (decimals allowed)\n",
     {"interval"}},
    {"retry", "retry JOB_ID...",
     "Runs failed jobs again: each goes back to pending and onto its module's\n"
     "queue. Images already made stay made and are not charged again; only the\n"
     "missing ones are generated. A job that is not failed is left alone.\n",
     {}},
    {"cancel", "cancel [--timeout=S] JOB_ID...",
     "Stops pending or running jobs. A job no worker is running ends failed\n"
     "with error_message 'cancelled' at once; a running job stops at its next\n"
     "image boundary on whichever node runs it (images already being made are\n"
     "finished and charged, no new image starts), its credit holds are\n"
     "released and it ends failed with 'cancelled'. The command waits up to\n"
     "--timeout seconds (default 60) for running jobs to end.\n",
     {"timeout"}},
    {"pause", "pause QUEUE|MODULE...",
     "Stops every node taking ids from the queues (by queue name or module\n"
     "name) within about a second (worker.take_timeout). Ids keep arriving and\n"
     "wait; jobs already taken run to the end.\n",
     {}},
    {"resume", "resume QUEUE|MODULE...",
     "Lets every node take ids from paused queues again.\n",
     {}},
    {"requeue-dead", "requeue-dead [--all | ID...]",
     "Pushes dead-lettered ids (jobs:dead) back onto the queue they came from.\n",
     {}},
    {"config", "config [--json]",
     "Prints the effective configuration: every key, its value and where the\n"
     "value came from (default, the file of --config/QUEL_CONFIG, an\n"
     "environment variable, or an option). Secrets are masked.\n",
     {}},
    {"help", "help [COMMAND]", "Prints the usage, or one command's help.\n", {}},
  };
  return docs;
}

const command_doc* find_command(const std::string& name) {
  for (auto& c : commands())
    if (name == c.name)
      return &c;
  return nullptr;
}

} // namespace

cli_args cli_args::parse(int argc, char** argv) {
  cli_args out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      out.help = true;
    } else if (arg == "--version" || arg == "-V") {
      out.version = true;
    } else if (arg.rfind("--", 0) == 0) {
      auto eq = arg.find('=');
      auto name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (name.empty())
        throw std::invalid_argument("empty option name in \"" + arg + "\"");
      if (flag_names().count(name)) {
        if (eq != std::string::npos)
          throw std::invalid_argument("option --" + name + " takes no value");
        if (name == "drain")
          out.drain = true;
        out.flags.insert(name);
      } else if (eq != std::string::npos) {
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

std::vector<std::string> command_options(const std::string& command) {
  auto* c = find_command(command);
  return c ? c->options : std::vector<std::string>{};
}

const char* usage_text() {
  return R"(usage: quel-worker COMMAND [options]

commands:
  migrate                      apply the worker's own migrations (safe to repeat)
  run [--drain]                take and process jobs until SIGTERM/SIGINT; with
                               --drain, until every queue is empty and nothing
                               is in flight, then exit 0
  serve-generator              run a generator node for workers' model calls
                               (published on mesh.listen)
  enqueue [--module M] ID...   push job ids onto their module's queue
  status [--json] [--watch] [JOB_ID]
                               queues (depth, oldest age, paused), jobs in
                               flight with progress, nodes, dead letters; or
                               one job in detail
  retry JOB_ID...              run failed jobs again, making only missing images
  cancel JOB_ID...             stop pending or running jobs (failed, 'cancelled')
  pause QUEUE...               stop every node taking from queues
  resume QUEUE...              take from paused queues again
  requeue-dead [--all | ID...] push dead-lettered ids back onto their queues
  config [--json]              the effective configuration and each value's source
  help [COMMAND]               this text, or one command's help

options:
  --config=PATH                a configuration file (see config/worker.ini)
  --modules=PATH               a modules file replacing config/modules.ini
  --log-format=human|json      log format (default human)
  --SECTION.KEY=VALUE          any key of config/worker.ini
  --version                    version, git commit and build type
  -h, --help                   this text (after a command: that command's help)
)";
}

std::string command_help(const std::string& command) {
  auto* c = find_command(command);
  if (c == nullptr)
    return {};
  return std::string{"usage: quel-worker "} + c->synopsis + " [options]\n\n" + c->text
         + "\nEvery command also takes --config=PATH, --modules=PATH,\n"
           "--log-format=human|json and --SECTION.KEY=VALUE (see quel-worker help).\n";
}

std::string version_text() {
  return std::string{"quel-worker "} + build_info::version() + "\n"
         + "commit " + build_info::git_commit() + " (" + build_info::git_describe() + ")\n"
         + "build " + build_info::build_type() + "\n";
}

} // namespace quel
