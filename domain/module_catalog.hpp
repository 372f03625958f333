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

/// One module's configuration (a `[module.NAME]` section).
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

/// The configured modules, in the order of the INI file.
class module_catalog {
public:
  /// Parses the INI text of config/modules.ini; throws std::invalid_argument
  /// naming the line on malformed input, unknown keys, a bad cost, two
  /// modules sharing a queue, or no module at all. Without `queue`, a
  /// module's queue is `jobs:queue` for fashion and `jobs:queue:NAME` else.
  static module_catalog from_ini(const std::string& text);

  /// The module named exactly `name` (case-sensitive), or nullptr.
  const module_config* find(const std::string& name) const;
  /// The module whose queue is `queue`, or nullptr.
  const module_config* by_queue(const std::string& queue) const;
  /// The module a job belongs to from what its `job_input_data.module` says
  /// (CONTRACT.md section 2 and rule 5): the module named, or fashion when the
  /// job names none. nullptr when the name is not a configured module (or
  /// names none and fashion is not configured): such a job is never
  /// rewritten to another module's queue.
  const module_config* for_job(const std::optional<std::string>& job_module) const;
  const std::vector<module_config>& all() const { return modules_; }

  /// Overrides every module's cost (QUEL_CREDITS_PER_IMAGE); throws
  /// std::invalid_argument when negative.
  void set_cost_for_all(int64_t credits);
  /// Keeps only the named modules (worker.modules), in catalog order; throws
  /// std::invalid_argument on unknown names and then changes nothing.
  void keep_only(const std::vector<std::string>& names);

  std::vector<module_config> modules_;
};

} // namespace quel
