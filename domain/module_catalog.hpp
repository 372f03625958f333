#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

/// The six modules share one pipeline and differ only in configuration
/// (CONTRACT.md section 2): queue, cost, how input categories are described
/// to the model and a prompt preamble. Defined in config/modules.ini.
namespace quel {

struct module_config {
  std::string name;
  std::string queue;
  int64_t credits_per_image = 1;
  std::string preamble;
  /// Category (`model`, `top`, ...) -> how the model is told what it is.
  std::map<std::string, std::string> categories;

  /// How an input of `category` is described; an unknown category is
  /// described by its own name.
  std::string describe(const std::string& category) const;
};

class module_catalog {
public:
  /// Parses the INI text of config/modules.ini; throws std::invalid_argument
  /// naming the line on malformed input.
  static module_catalog from_ini(const std::string& text);

  const module_config* find(const std::string& name) const;
  const module_config* by_queue(const std::string& queue) const;
  const std::vector<module_config>& all() const { return modules_; }

  /// Overrides every module's cost (QUEL_CREDITS_PER_IMAGE).
  void set_cost_for_all(int64_t credits);
  /// Keeps only the named modules (worker.modules); throws on unknown names.
  void keep_only(const std::vector<std::string>& names);

  std::vector<module_config> modules_;
};

} // namespace quel
