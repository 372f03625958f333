#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>

/// Strong id types: a job id and an organisation id are both text, but one
/// must never be passed where the other is expected (the credit shard is
/// chosen by organisation, a hold is keyed by job). Plain values, no CAF.
namespace quel::ids {

/// Text that names one kind of thing, told apart by `Tag`. Construction is
/// explicit so that a bare string has to say what it is.
template <class Tag>
class strong_id {
public:
  strong_id() = default;
  explicit strong_id(std::string value) : value_(std::move(value)) {
  }

  const std::string& str() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

  friend bool operator==(const strong_id& x, const strong_id& y) {
    return x.value_ == y.value_;
  }
  friend bool operator!=(const strong_id& x, const strong_id& y) { return !(x == y); }
  friend bool operator<(const strong_id& x, const strong_id& y) {
    return x.value_ < y.value_;
  }
  friend const std::string& to_string(const strong_id& x) { return x.value_; }

private:
  std::string value_;
};

/// A job as pushed to the queues (`quel_production_jobs.job_id`; an id taken
/// off a queue may not even be a UUID).
using job = strong_id<struct job_tag>;

/// An organisation that pays for images (`quel_org.org_id`).
using org = strong_id<struct org_tag>;

/// The organisation of a nullable org_id column (a job nobody pays for has
/// none).
inline std::optional<org> optional_org(const std::optional<std::string>& text) {
  if (!text)
    return std::nullopt;
  return org{*text};
}

} // namespace quel::ids

namespace std {

template <class Tag>
struct hash<quel::ids::strong_id<Tag>> {
  size_t operator()(const quel::ids::strong_id<Tag>& x) const noexcept {
    return hash<string>{}(x.str());
  }
};

} // namespace std
