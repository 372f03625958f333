#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "domain/job_records.hpp"
#include "domain/job_parser.hpp"

namespace quel {

/// Checks the attach rows a job names (CONTRACT.md rule 9): each must exist
/// and have a key that passes rule 13. Returns attach id -> object key, or
/// the validation error naming the stage, the entry and the attach id.
std::variant<std::map<int64_t, std::string>, invalid_job>
resolve_input_keys(const job_spec& spec, const std::vector<attach_row>& rows);

} // namespace quel
