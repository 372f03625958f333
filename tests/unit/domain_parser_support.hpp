#pragma once

// Helpers shared by the job parser tests.
#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "domain/job_parser.hpp"

namespace quel::test {

/// A catalog with two modules, enough for the module checks of rule 12.
inline const module_catalog& parser_modules() {
  static const auto catalog = module_catalog::from_ini(
    "[module.fashion]\nqueue = jobs:queue\n[module.beauty]\n");
  return catalog;
}

inline parse_result parse(const std::string& job_type, const std::string& input,
                          const std::string& queue_module = "fashion",
                          const job_limits& limits = {}) {
  return parse_job_input(job_type, input, parser_modules(), queue_module, limits);
}

/// Parses input that must be valid; fails the test with the message otherwise.
inline job_spec parse_ok(const std::string& job_type, const std::string& input,
                         const std::string& queue_module = "fashion",
                         const job_limits& limits = {}) {
  auto result = parse(job_type, input, queue_module, limits);
  if (auto* bad = std::get_if<invalid_job>(&result))
    FAIL("expected valid input, got: " << bad->message);
  return std::get<job_spec>(result);
}

/// Parses input that must be invalid and returns the message.
inline std::string parse_error(const std::string& job_type, const std::string& input,
                               const std::string& queue_module = "fashion",
                               const job_limits& limits = {}) {
  auto result = parse(job_type, input, queue_module, limits);
  if (std::holds_alternative<job_spec>(result))
    FAIL("expected invalid input: " << input);
  return std::get<invalid_job>(result).message;
}

/// A pipeline job with one stage 0 whose extra members are `fields`.
inline std::string stage_job(const std::string& fields) {
  return R"({"stages": [{"stage_index": 0, "prompt": "p", "quantity": 1)"
         + (fields.empty() ? "" : ", " + fields) + "}]}";
}

/// A pipeline job with one stage 0 and one input entry holding `fields`
/// plus `"type": "model"`.
inline std::string one_input_job(const std::string& fields) {
  return stage_job(R"("individualImageAttachIds": [{)" + fields + R"(, "type": "model"}])");
}

} // namespace quel::test
