#pragma once

#include <string>
#include <vector>

#include "domain/job_spec.hpp"
#include "domain/module_catalog.hpp"

namespace quel {

/// The text part sent to the model for one image of a stage: the module's
/// preamble, one line per input image describing its category (in the order
/// of individualImageAttachIds, numbered like the inline parts that follow),
/// then the stage prompt verbatim.
std::string build_prompt(const module_config& module, const stage_spec& stage);

} // namespace quel
