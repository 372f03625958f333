#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace quel {

/// A parsed INI document: `[section]` headers, `key = value` lines and
/// whole-line comments starting with `;` or `#`.
class ini_file {
public:
  /// Parses `text`; keys inside a section are stored as "section.key", keys
  /// before any section as "key". A later duplicate overrides an earlier one.
  /// Throws std::invalid_argument naming the line number of a malformed line.
  static ini_file parse(const std::string& text);

  /// The value of "section.key" (or "key"), or nullopt when it is absent.
  std::optional<std::string> get(const std::string& section_key) const;

  /// Every entry, keyed "section.key", in key order.
  const std::map<std::string, std::string>& entries() const { return entries_; }

  /// Section names in the order they first appear (a section may be empty).
  const std::vector<std::string>& sections() const { return sections_; }

  /// The 1-based line an entry was (last) set on, or 0 when it is absent;
  /// lets callers that check values name the line too.
  size_t line_of(const std::string& section_key) const;

  /// The 1-based line a section header first appears on, or 0.
  size_t section_line(const std::string& section) const;

private:
  std::map<std::string, std::string> entries_;
  std::map<std::string, size_t> lines_;
  std::vector<std::string> sections_;
  std::map<std::string, size_t> section_lines_;
};

} // namespace quel
