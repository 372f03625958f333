#include "actors/metric_labels.hpp"

#include "messages/errors.hpp"

namespace quel {

const char* error_class(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() != caf::atom("quel"))
    return "crash";
  switch (static_cast<worker_errc>(err.code())) {
    case worker_errc::retryable: return "transient";
    case worker_errc::permanent: return "permanent";
    case worker_errc::object_missing: return "object_missing";
    case worker_errc::credits_exhausted: return "credits_exhausted";
    case worker_errc::lease_lost: return "lease_lost";
    case worker_errc::shutting_down: return "shutting_down";
    case worker_errc::retry_once: return "no_image";
  }
  return "crash";
}

} // namespace quel
