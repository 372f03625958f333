#pragma once

// Helpers shared by the local object store tests.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>

#include <unistd.h>

namespace quel::test {

// A fresh directory per test, removed afterwards.
struct temp_root {
  std::filesystem::path path;
  temp_root() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path()
           / ("quel-media-store-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter++) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~temp_root() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_root(const temp_root&) = delete;
  temp_root& operator=(const temp_root&) = delete;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace quel::test
