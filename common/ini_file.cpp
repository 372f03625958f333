#include "common/ini_file.hpp"

#include <stdexcept>
#include <string_view>

namespace quel {

namespace {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  auto first = s.find_first_not_of(ws);
  if (first == std::string_view::npos)
    return {};
  auto last = s.find_last_not_of(ws);
  return s.substr(first, last - first + 1);
}

[[noreturn]] void malformed(size_t line_no, const std::string& why) {
  throw std::invalid_argument("line " + std::to_string(line_no) + ": " + why);
}

} // namespace

ini_file ini_file::parse(const std::string& text) {
  ini_file result;
  std::string section;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    ++line_no;
    auto line = trim(std::string_view(text).substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line.front() == ';' || line.front() == '#')
      continue;
    if (line.front() == '[') {
      if (line.back() != ']')
        malformed(line_no, "section header without closing ']'");
      auto name = trim(line.substr(1, line.size() - 2));
      if (name.empty())
        malformed(line_no, "empty section name");
      section = std::string(name);
      if (result.section_lines_.emplace(section, line_no).second)
        result.sections_.push_back(section);
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos)
      malformed(line_no, "expected 'key = value', got '" + std::string(line) + "'");
    auto key = trim(line.substr(0, eq));
    if (key.empty())
      malformed(line_no, "missing key before '='");
    auto value = trim(line.substr(eq + 1));
    auto full = section.empty() ? std::string(key) : section + "." + std::string(key);
    result.entries_[full] = std::string(value);
    result.lines_[full] = line_no;
  }
  return result;
}

std::optional<std::string> ini_file::get(const std::string& section_key) const {
  auto i = entries_.find(section_key);
  if (i == entries_.end())
    return std::nullopt;
  return i->second;
}

size_t ini_file::line_of(const std::string& section_key) const {
  auto i = lines_.find(section_key);
  return i == lines_.end() ? 0 : i->second;
}

size_t ini_file::section_line(const std::string& section) const {
  auto i = section_lines_.find(section);
  return i == section_lines_.end() ? 0 : i->second;
}

} // namespace quel
