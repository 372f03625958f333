#include "domain/json_numbers.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace quel {

namespace {

using json = nlohmann::json;

constexpr uint64_t two_pow_53 = uint64_t{1} << 53;

uint64_t bits_of(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

// Ranks how far a number is from an acceptable whole one, to keep the worst
// text when two share a double.
int badness(const number_text& n) {
  return !n.whole ? 2 : n.beyond_2_53 ? 1 : 0;
}

/// Builds the DOM with nlohmann's own builder and records float texts.
class recording_builder : public nlohmann::json_sax<json> {
public:
  explicit recording_builder(exact_json& out) : out_(out), dom_(out.root, true) {
  }

  bool null() override { return dom_.null(); }
  bool boolean(bool v) override { return dom_.boolean(v); }
  bool number_integer(number_integer_t v) override { return dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) override { return dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) override {
    auto read = read_number_text(s);
    auto [it, inserted] = out_.float_texts.emplace(bits_of(v), read);
    if (!inserted && badness(read) > badness(it->second))
      it->second = read;
    return dom_.number_float(v, s);
  }
  bool string(string_t& v) override { return dom_.string(v); }
  bool binary(binary_t& v) override { return dom_.binary(v); }
  bool start_object(std::size_t n) override { return deeper() && dom_.start_object(n); }
  bool key(string_t& v) override { return dom_.key(v); }
  bool end_object() override { --depth_; return dom_.end_object(); }
  bool start_array(std::size_t n) override { return deeper() && dom_.start_array(n); }
  bool end_array() override { --depth_; return dom_.end_array(); }
  bool parse_error(std::size_t pos, const std::string& token,
                   const nlohmann::detail::exception& e) override {
    return dom_.parse_error(pos, token, e);
  }

private:
  bool deeper() {
    if (++depth_ > max_json_depth)
      throw std::length_error("JSON nests deeper than " + std::to_string(max_json_depth)
                              + " levels");
    return true;
  }

  exact_json& out_;
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int depth_ = 0;
};

} // namespace

number_text read_number_text(const std::string& text) {
  number_text out;
  out.text = text;
  size_t i = 0;
  bool negative = i < text.size() && text[i] == '-';
  if (negative)
    ++i;
  std::string digits;  // integer and fraction digits, without the point
  long point = 0;      // digits before the decimal point
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++point)
    digits += text[i];
  if (i < text.size() && text[i] == '.')
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
      digits += text[i];
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = i < text.size() && text[i] == '-';
    if (i < text.size() && (text[i] == '-' || text[i] == '+'))
      ++i;
    long exp = 0;
    // Saturates: any exponent past a million moves the point off every digit.
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
      exp = std::min(exp * 10 + (text[i] - '0'), 1000000L);
    point += exp_negative ? -exp : exp;
  }
  // Trailing zeros never decide wholeness; leading zeros never the value.
  auto last = digits.find_last_not_of('0');
  if (last == std::string::npos) {  // all zeros: 0, -0.0, 0e5
    out.whole = true;
    return out;
  }
  point -= static_cast<long>(digits.find_first_not_of('0'));
  digits = digits.substr(digits.find_first_not_of('0'), last + 1 - digits.find_first_not_of('0'));
  if (static_cast<long>(digits.size()) > point)
    return out;  // a non-zero digit after the point
  out.whole = true;
  // point digits in all: 2^53 has 16, so 17 or more are beyond it.
  if (point > 16) {
    out.beyond_2_53 = true;
    return out;
  }
  uint64_t magnitude = 0;
  for (long d = 0; d < point; ++d)
    magnitude = magnitude * 10 + (d < static_cast<long>(digits.size()) ? digits[d] - '0' : 0);
  if (magnitude > two_pow_53) {
    out.beyond_2_53 = true;
    return out;
  }
  out.value = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  return out;
}

const number_text* exact_json::text_of(const json& v) const {
  if (!v.is_number_float())
    return nullptr;
  auto it = float_texts.find(bits_of(v.get<double>()));
  return it == float_texts.end() ? nullptr : &it->second;
}

exact_json parse_exact_json(const std::string& text) {
  exact_json out;
  recording_builder builder(out);
  json::sax_parse(text, &builder);
  return out;
}

} // namespace quel
