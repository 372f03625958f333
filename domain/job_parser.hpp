#pragma once

#include <string>
#include <variant>

#include "domain/job_spec.hpp"
#include "domain/module_catalog.hpp"

namespace quel {

/// A validation failure: `message` is what the job's `error_message` says,
/// naming the stage (by stage_index), the entry (0-based) and the value.
struct invalid_job {
  std::string message;
};

using parse_result = std::variant<job_spec, invalid_job>;

/// Parses and validates a job's input: every rule of CONTRACT.md section 3
/// and rules 6-8, 10-12 (shape, limits, stage graph). `queue_module` is the
/// module of the queue the id came from; `job_input_data.module`, when
/// present, must name it. Checks that need the database (attach rows, keys)
/// happen later, see object_key_problem. Numbers (attachId, fromStage,
/// index, stage_index, quantity) are accepted as JSON integers, JSON numbers
/// without fraction or strings of decimal digits. A JSON `null` for an
/// optional member (`module`, `aspectRatio`) counts as present and invalid.
parse_result parse_job_input(const std::string& job_type,
                             const std::string& input_json,
                             const module_catalog& modules,
                             const std::string& queue_module,
                             const job_limits& limits);

} // namespace quel
