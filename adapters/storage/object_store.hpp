#pragma once

#include <optional>
#include <string>

#include "adapters/adapter_failure.hpp"
#include "common/blob.hpp"

namespace quel {

/// Why a storage call failed, and whether trying again can help.
class storage_error : public adapter_error {
public:
  using adapter_error::adapter_error;
};

/// Object storage (local directory or Supabase Storage). Keys are relative to
/// the configured bucket and have passed object_key_problem(). No CAF here.
class object_store {
public:
  virtual ~object_store() = default;

  /// The object's bytes, or nullopt when it does not exist. Throws
  /// storage_error when the object is larger than `max_bytes` (not
  /// retryable) or the backend fails.
  virtual std::optional<blob> get(const std::string& key, int64_t max_bytes) = 0;

  /// Creates or overwrites the object (a retry never leaves a second copy).
  virtual void put(const std::string& key, const blob& bytes,
                   const std::string& content_type) = 0;

  /// True when the object exists (used to resume without generating again).
  virtual bool exists(const std::string& key) = 0;
};

} // namespace quel
