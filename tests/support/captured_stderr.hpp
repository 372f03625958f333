#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

namespace quel::test {

/// What `fn` writes to file descriptor 2 (the logger writes there with
/// write(2), so std::cerr redirection would not see it).
template <class Fn>
std::string captured_stderr(Fn fn) {
  std::FILE* tmp = std::tmpfile();
  REQUIRE(tmp != nullptr);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(tmp), STDERR_FILENO);
  fn();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;)
    out.append(buf, n);
  std::fclose(tmp);
  return out;
}

} // namespace quel::test
