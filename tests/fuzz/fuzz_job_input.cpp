// libFuzzer target: job_input_data as a customer's web app may send it.
// The input is the JSON text; it is parsed as both job types, and a valid
// job goes on to the attach-row checks (resolve_input_keys) with rows whose
// paths come from the job's own text, so hostile keys reach rule 13 too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "domain/job_parser.hpp"
#include "domain/job_validation.hpp"

namespace {

const quel::module_catalog& catalog() {
  static const auto modules = quel::module_catalog::from_ini(
    "[module.fashion]\nqueue = jobs:queue\n[module.beauty]\n");
  return modules;
}

void check(const std::string& job_type, const std::string& text) {
  quel::job_limits limits;
  auto result = quel::parse_job_input(job_type, text, catalog(), "fashion", limits);
  auto* spec = std::get_if<quel::job_spec>(&result);
  if (!spec)
    return;
  (void)spec->total_images();
  (void)spec->largest_stage_index();
  std::vector<quel::attach_row> rows;
  for (const auto& stage : spec->stages) {
    (void)stage.dependencies();
    for (const auto& input : stage.inputs) {
      if (!input.attach_id)
        continue;
      quel::attach_row row;
      row.attach_id = *input.attach_id;
      // Hostile keys: the prompt as the file name, the type as directory;
      // every other id has no path at all.
      if (rows.size() % 2 == 0) {
        row.file_path = stage.prompt;
        row.directory = input.type;
      }
      rows.push_back(row);
    }
  }
  (void)quel::resolve_input_keys(*spec, rows);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  check("pipeline_stage", text);
  check("single_batch", text);
  return 0;
}
