// quel-worker: turns job ids on Redis lists into finished, stored, paid-for
// images (see README.md and docs/ARCHITECTURE.md).
#include <iostream>

#include "app/admin_commands.hpp"
#include "app/cli_args.hpp"
#include "app/ops_commands.hpp"
#include "app/worker_config.hpp"
#include "app/worker_runtime.hpp"
#include "common/log.hpp"

namespace {

quel::log::level level_of(const std::string& name) {
  if (name == "debug")
    return quel::log::level::debug;
  if (name == "warn")
    return quel::log::level::warn;
  if (name == "error")
    return quel::log::level::error;
  return quel::log::level::info;
}

int dispatch(const quel::cli_args& args) {
  // A command's own options are not configuration keys.
  auto options = args.options;
  for (auto& name : quel::command_options(args.command))
    options.erase(name);
  bool all = args.flag("all");
  auto config = quel::worker_config::load(options);
  quel::log::set_format(config.log_format == "json" ? quel::log::format::json
                                                    : quel::log::format::human);
  quel::log::set_min_level(level_of(config.log_level));
  auto module = args.options.count("module") ? args.options.at("module") : std::string{};
  if (args.command == "run") {
    config.settings.drain = args.drain;
    quel::fault::configure(config.faults);
    if (quel::fault::enabled())
      quel::log::warn("FAULT INJECTION IS ENABLED ([faults] in the configuration): "
                      "this worker crashes and fails on purpose");
    return quel::run_worker(config);
  }
  if (args.command == "serve-generator") {
    quel::fault::configure(config.faults);
    return quel::serve_generator(config);
  }
  if (args.command == "migrate")
    return quel::migrate_command(config);
  if (args.command == "enqueue")
    return quel::enqueue_command(config, module, args.positional);
  if (args.command == "status")
    return quel::status_command(config, args);
  if (args.command == "retry")
    return quel::retry_command(config, args.positional);
  if (args.command == "cancel")
    return quel::cancel_command(config, args);
  if (args.command == "pause" || args.command == "resume")
    return quel::pause_command(config, args.positional, args.command == "pause");
  if (args.command == "config")
    return quel::config_command(config, args);
  if (args.command == "requeue-dead")
    return quel::requeue_dead_command(config, all, args.positional);
  std::cerr << "unknown command \"" << args.command << "\"\n\n" << quel::usage_text();
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  quel::cli_args args;
  try {
    args = quel::cli_args::parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "quel-worker: " << e.what() << "\n\n" << quel::usage_text();
    return 2;
  }
  if (args.version) {
    std::cout << quel::version_text();
    return 0;
  }
  // `help COMMAND` and `COMMAND --help`: that command's help.
  if (args.command == "help" || (args.help && !args.command.empty())) {
    auto topic = args.command == "help"
                   ? (args.positional.empty() ? std::string{} : args.positional[0])
                   : args.command;
    if (topic.empty()) {
      std::cout << quel::usage_text();
      return 0;
    }
    auto text = quel::command_help(topic);
    if (text.empty()) {
      std::cerr << "quel-worker: no command \"" << topic << "\"\n\n" << quel::usage_text();
      return 2;
    }
    std::cout << text;
    return 0;
  }
  if (args.help || args.command.empty()) {
    std::cout << quel::usage_text();
    return args.help ? 0 : 2;
  }
  try {
    return dispatch(args);
  } catch (const quel::config_error& e) {
    quel::log::error(std::string{"configuration error: "} + e.what());
    return 2;
  } catch (const std::exception& e) {
    quel::log::error(std::string{"quel-worker "} + args.command + " failed: " + e.what());
    return 1;
  }
}
