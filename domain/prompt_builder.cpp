#include "domain/prompt_builder.hpp"

namespace quel {

std::string build_prompt(const module_config& module, const stage_spec& stage) {
  std::string text;
  if (!module.preamble.empty())
    text += module.preamble + "\n\n";
  for (size_t i = 0; i < stage.inputs.size(); ++i) {
    auto& type = stage.inputs[i].type;
    text += "Image " + std::to_string(i + 1) + " (" + type + "): "
            + module.describe(type) + "\n";
  }
  if (!stage.inputs.empty())
    text += "\n";
  // The stage prompt goes last and untouched: it is the customer's text.
  text += stage.prompt;
  return text;
}

} // namespace quel
