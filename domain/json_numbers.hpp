#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace quel {

/// What the text of a JSON number says, decided on the text itself: a double
/// would round 39070.0000000000000001 to 39070 and 9007199254740993.0 to 2^53,
/// and take either for a whole number within range.
struct number_text {
  std::string text;          // as written in the input
  bool whole = false;        // exactly a whole number
  bool beyond_2_53 = false;  // whole, with a magnitude above 2^53
  int64_t value = 0;         // when whole and not beyond 2^53
};

/// Reads the text of a JSON number (-?digits(.digits)?([eE][+-]?digits)?).
number_text read_number_text(const std::string& text);

/// Deepest nesting of arrays and objects accepted; deeper input is refused
/// before anything recurses over it.
constexpr int max_json_depth = 64;

/// A parsed document and the texts of its numbers that nlohmann stored as
/// doubles (written with a fraction or exponent, or too large for 64 bits),
/// keyed by the bits of the double. Where two texts share a double, the one
/// that is least whole is kept: its document is refused either way.
struct exact_json {
  nlohmann::json root;
  std::map<uint64_t, number_text> float_texts;

  /// The text of a number stored as a double, or nullptr.
  const number_text* text_of(const nlohmann::json& v) const;
};

/// Parses like nlohmann::json::parse; throws nlohmann::json::exception on
/// invalid JSON and std::length_error past max_json_depth.
exact_json parse_exact_json(const std::string& text);

} // namespace quel
