#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// The value parsers of the worker's configuration (app/worker_config.cpp),
/// kept free of the actor layer so that they can be fuzzed on their own
/// (tests/fuzz/fuzz_config_values.cpp). Each takes the whole text or
/// nothing: no sign, spaces, exponent, hexadecimal, "inf" or unit that
/// strtod or stoll would take, and a range checked before any conversion
/// that could overflow (docs/SECURITY.md section 3).
namespace quel {

/// A whole number in min..max written as decimal digits only (no sign: no
/// setting of the worker is negative).
std::optional<int64_t> parse_whole_number(std::string_view text, int64_t min, int64_t max);

/// A decimal written as digits with an optional fraction ("2.5"); nullopt
/// for anything else. Very long digit strings become inf (refused by any
/// range check).
std::optional<double> parse_plain_decimal(std::string_view text);

/// Seconds in min..max (parse_plain_decimal), as whole milliseconds.
std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text, double min,
                                                       double max);

/// A fraction in 0..1 (parse_plain_decimal).
std::optional<double> parse_fraction(std::string_view text);

/// Whether `addr` is "off" or host:port with a port in 1..65535 written as
/// digits (the host part is not resolved here).
bool valid_http_addr(std::string_view addr);

} // namespace quel
