#include "common/uuid.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <random>

namespace quel {

namespace {

bool node_id_char(char c) {
  // Explicit ranges: isalnum depends on the locale.
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || c == '.' || c == '_' || c == '-';
}

} // namespace

bool is_uuid(std::string_view text) {
  if (text.size() != 36)
    return false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-'
                      : !std::isxdigit(static_cast<unsigned char>(text[i])))
      return false;
  }
  return true;
}

std::string new_node_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0)
    host[0] = '\0';
  std::string safe_host;
  for (const char* p = host; *p != '\0' && safe_host.size() < 32; ++p)
    safe_host += node_id_char(*p) ? *p : '_';
  if (safe_host.empty())
    safe_host = "node";
  // The random part keeps ids apart when pids repeat (containers, restarts).
  std::random_device rd;
  char tail[40];
  std::snprintf(tail, sizeof tail, "-%d-%08x%08x", static_cast<int>(getpid()),
                static_cast<unsigned>(rd()), static_cast<unsigned>(rd()));
  return safe_host + tail;
}

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return false;
  for (char c : id)
    if (!node_id_char(c))
      return false;
  return true;
}

} // namespace quel
