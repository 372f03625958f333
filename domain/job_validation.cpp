#include "domain/job_validation.hpp"

#include "domain/object_key.hpp"

namespace quel {

std::variant<std::map<int64_t, std::string>, invalid_job>
resolve_input_keys(const job_spec& spec, const std::vector<attach_row>& rows) {
  std::map<int64_t, const attach_row*> by_id;
  for (auto& row : rows)
    by_id[row.attach_id] = &row;
  std::map<int64_t, std::string> keys;
  for (auto& stage : spec.stages) {
    for (size_t n = 0; n < stage.inputs.size(); ++n) {
      auto& ref = stage.inputs[n];
      if (!ref.attach_id)
        continue;
      auto where = "stage " + std::to_string(stage.stage_index) + ", input "
                   + std::to_string(n) + ": attach "
                   + std::to_string(*ref.attach_id);
      auto i = by_id.find(*ref.attach_id);
      if (i == by_id.end())
        return invalid_job{where + " does not exist"};
      auto key = input_key_of(i->second->file_path, i->second->directory);
      if (!key)
        return invalid_job{where + " has no object key (attach_file_path and "
                                   "attach_directory are empty)"};
      if (auto problem = object_key_problem(*key))
        return invalid_job{where + " has a refused object key \"" + *key
                           + "\": " + *problem};
      keys[*ref.attach_id] = *key;
    }
  }
  return keys;
}

} // namespace quel
