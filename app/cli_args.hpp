#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace quel {

/// The command line: `quel-worker COMMAND [options] [args]`.
struct cli_args {
  std::string command;                        // migrate | run | enqueue | status | ...
  std::vector<std::string> positional;        // e.g. job ids of enqueue
  std::map<std::string, std::string> options; // --name=value (name without --)
  std::set<std::string> flags;                // --json, --watch, --all (no value)
  bool drain = false;                         // run --drain
  bool help = false;                          // -h, --help (of COMMAND when given)
  bool version = false;                       // --version

  bool flag(const std::string& name) const { return flags.count(name) > 0; }

  /// Throws std::invalid_argument naming the bad argument.
  static cli_args parse(int argc, char** argv);
};

/// One command's own options (not configuration keys): they are taken out
/// of `options` before the configuration is loaded, which refuses unknown
/// keys. Empty for an unknown command.
std::vector<std::string> command_options(const std::string& command);

/// The usage text printed for --help and for bad arguments.
const char* usage_text();

/// The help of one command (`quel-worker help COMMAND`, `COMMAND --help`);
/// empty for an unknown command.
std::string command_help(const std::string& command);

/// What `--version` prints: version, git commit and build type, one per line.
std::string version_text();

} // namespace quel
