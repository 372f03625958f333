#include "domain/object_key.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace quel {

namespace {

// The first segment problem of a '/'-separated key: an empty segment
// (`a//b`, a trailing '/'), `.`, `..`, or one longer than a file name may be.
std::optional<std::string> segment_problem(const std::string& key) {
  size_t start = 0;
  while (start <= key.size()) {
    auto end = key.find('/', start);
    if (end == std::string::npos)
      end = key.size();
    auto length = end - start;
    if (length == 0)
      return std::string(" contains an empty segment");
    if (key.compare(start, length, ".") == 0)
      return std::string(" contains a '.' segment");
    if (key.compare(start, length, "..") == 0)
      return std::string(" contains a '..' segment");
    if (length > max_object_key_segment_bytes)
      return " has a segment longer than " + std::to_string(max_object_key_segment_bytes)
             + " bytes";
    start = end + 1;
  }
  return std::nullopt;
}

// %2e/%2f decode to '.' and '/', %5c to '\'; a backend that decodes the key
// would otherwise let `%2e%2e%2f` climb out of the bucket.
bool has_encoded_separator(const std::string& key) {
  for (size_t i = 0; i + 2 < key.size(); ++i) {
    if (key[i] != '%')
      continue;
    auto hi = key[i + 1];
    auto lo = static_cast<char>(std::tolower(static_cast<unsigned char>(key[i + 2])));
    if ((hi == '2' && (lo == 'e' || lo == 'f')) || (hi == '5' && lo == 'c'))
      return true;
  }
  return false;
}

} // namespace

std::optional<std::string> object_key_problem(const std::string& key) {
  if (key.empty())
    return std::string("object key is empty");
  // Checked before quoting: a huge key would drown the message.
  if (key.size() > max_object_key_bytes)
    return "object key of " + std::to_string(key.size()) + " bytes is longer than "
           + std::to_string(max_object_key_bytes) + " bytes";
  // Checked first so that the messages below can quote the key safely.
  if (std::any_of(key.begin(), key.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      }))
    return std::string("object key contains a control character");
  auto quoted = "object key \"" + key + "\"";
  if (key.front() == '/')
    return quoted + " starts with '/'";
  if (key.find("://") != std::string::npos)
    return quoted + " contains a scheme ('://')";
  if (key.find('\\') != std::string::npos)
    return quoted + " contains a backslash";
  if (auto problem = segment_problem(key))
    return quoted + *problem;
  if (has_encoded_separator(key))
    return quoted + " contains a percent-encoded dot, slash or backslash";
  return std::nullopt;
}

std::optional<std::string> input_key_of(const std::optional<std::string>& file_path,
                                        const std::optional<std::string>& directory) {
  if (file_path && !file_path->empty())
    return file_path;
  if (directory && !directory->empty())
    return directory;
  return std::nullopt;
}

std::string output_key(const std::string& job_id, int stage_index,
                       int image_index, const std::string& extension) {
  return "generated/" + job_id + "/s" + std::to_string(stage_index) + "-i"
         + std::to_string(image_index) + "." + extension;
}

} // namespace quel
