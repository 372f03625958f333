#pragma once

#include <map>
#include <string>
#include <vector>

namespace quel {

/// The command line: `quel-worker COMMAND [options] [args]`.
struct cli_args {
  std::string command;                        // migrate | run | enqueue | status
  std::vector<std::string> positional;        // e.g. job ids of enqueue
  std::map<std::string, std::string> options; // --name=value (name without --)
  bool drain = false;                         // run --drain
  bool help = false;

  /// Throws std::invalid_argument naming the bad argument.
  static cli_args parse(int argc, char** argv);
};

/// The usage text printed for --help and for bad arguments.
const char* usage_text();

} // namespace quel
