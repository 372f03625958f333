#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace quel {

/// Immutable image bytes shared between actors without copying: a message
/// that carries a blob carries a reference-counted pointer, so a 20 MB input
/// sent to 16 image actors exists once in memory.
class blob {
public:
  blob() = default;
  explicit blob(std::string bytes)
    : data_(std::make_shared<const std::string>(std::move(bytes))) {
  }

  const std::string& bytes() const {
    static const std::string empty;
    return data_ ? *data_ : empty;
  }
  size_t size() const { return data_ ? data_->size() : 0; }
  bool empty() const { return size() == 0; }

private:
  std::shared_ptr<const std::string> data_;
};

} // namespace quel
