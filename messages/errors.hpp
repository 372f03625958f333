#pragma once

#include <cstdint>
#include <chrono>
#include <optional>
#include <string>

#include <caf/error.hpp>

#include "adapters/adapter_failure.hpp"
#include "common/backoff.hpp"

/// Errors that travel between actors. A failed request or an actor's exit
/// reason is a caf::error of category "quel" whose context holds the reason
/// text that ends up in the job's error_message.
namespace quel {

enum class worker_errc : uint8_t {
  retryable = 1,       // try again after a backoff (5xx, timeouts, outages)
  permanent,           // trying again cannot help (4xx, bad bytes, safety)
  object_missing,      // an input object does not exist in storage
  credits_exhausted,   // the organisation cannot pay for the image
  lease_lost,          // another worker owns the job now (fenced)
  shutting_down,       // the process is stopping
  retry_once,          // a model reply without an image: one more try (rule 18)
};

/// Builds a caf::error carrying `reason` (shown to users) and, for
/// retryable errors, the delay the server asked for (RetryInfo).
caf::error make_failure(worker_errc code, std::string reason,
                        std::optional<std::chrono::milliseconds> retry_hint = {});

/// The actor error for a failure an adapter classified (Gemini and Supabase
/// replies, exceptions of the local backends): its class picks the code,
/// its reason and server delay travel along. Every adapter failure becomes
/// an actor error here and nowhere else.
caf::error to_error(const adapter_failure& failure);

/// The retry class of any actor error, for the supervisors' decisions: the
/// code's class for quel errors (credits_exhausted, lease_lost and
/// shutting_down are permanent), retryable for failures of CAF itself (a
/// crash is worth a restart).
retry_class retry_class_of(const caf::error& err);

/// The server-given delay carried by an error, if any.
std::optional<std::chrono::milliseconds> retry_hint_of(const caf::error& err);

/// The random source for retry jitter (thread-safe).
const backoff_policy::random_source& retry_random();

/// The reason text of an error made by make_failure, or a rendering of any
/// other error (e.g. an actor that died of an unhandled exception).
std::string reason_of(const caf::error& err);

/// True for errors worth another attempt after a backoff: those whose
/// retry_class_of is retryable or retry_once.
bool is_retryable(const caf::error& err);

/// True when `err` is a quel error with code `code`.
bool has_code(const caf::error& err, worker_errc code);

/// The error for an exception caught at an actor boundary: adapter errors
/// (storage_error, generation_error) go through to_error with their class;
/// anything else is retryable (a crash is restarted by the supervisor, up to
/// its limit).
caf::error failure_from_exception(std::exception_ptr ep);

} // namespace quel
