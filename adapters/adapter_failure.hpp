#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

/// The one way every backend (Gemini, Supabase Storage, the local disk and
/// generator) says why a call failed. Adapters return or throw it; the actor
/// side turns it into the actor error in exactly one place (`to_error` in
/// messages/errors.hpp), so a class cannot mean one thing in the adapters'
/// tests and another in production. No CAF here; header only, because every
/// adapter library uses it.
namespace quel {

/// How a failed call may be repeated (CONTRACT.md rules 17/18).
enum class retry_class {
  retryable,       // 429, 5xx, 544, timeouts, network, malformed 200, a crash
  retry_once,      // a model reply without an image: one more try at most
  permanent,       // other 4xx, refusals, quota exhausted, unusable bytes
  object_missing,  // the object asked for does not exist: never retried
};

/// A classified failure: its class, the reason text that ends up in the
/// job's error_message, and the delay the server asked for (RetryInfo).
struct adapter_failure {
  retry_class kind = retry_class::permanent;
  std::string reason;
  std::optional<std::chrono::milliseconds> server_delay;
};

/// The exception the blocking backends throw (storage_error and
/// generation_error derive from it), carrying its classification.
class adapter_error : public std::runtime_error {
public:
  explicit adapter_error(adapter_failure failure)
    : std::runtime_error(failure.reason), failure_(std::move(failure)) {
  }
  adapter_error(const std::string& reason, bool retryable)
    : adapter_error(adapter_failure{
        retryable ? retry_class::retryable : retry_class::permanent, reason, {}}) {
  }

  const adapter_failure& failure() const { return failure_; }
  bool retryable() const { return failure_.kind == retry_class::retryable; }

private:
  adapter_failure failure_;
};

/// "retryable", "retry_once", ... for logs.
inline const char* to_string(retry_class c) {
  switch (c) {
    case retry_class::retryable: return "retryable";
    case retry_class::retry_once: return "retry_once";
    case retry_class::permanent: return "permanent";
    case retry_class::object_missing: return "object_missing";
  }
  return "unknown";
}

/// The failure of reading an object that does not exist (local disk and
/// Supabase Storage word it alike).
inline adapter_failure object_missing(const std::string& key) {
  return {retry_class::object_missing, "object not found: " + key, {}};
}

} // namespace quel
