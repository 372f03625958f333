#include "messages/errors.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include "adapters/postgres/job_store.hpp"
#include "adapters/redis/queue_store.hpp"
#include "common/log_text.hpp"

namespace quel {

namespace {

constexpr caf::atom_value quel_category = caf::atom("quel");

} // namespace

caf::error make_failure(worker_errc code, std::string reason,
                        std::optional<std::chrono::milliseconds> retry_hint) {
  // Every reason travels to logs and error_message: no secret, bounded size.
  reason = redact_and_clip(reason, max_upstream_chars);
  if (retry_hint)
    return caf::error{static_cast<uint8_t>(code), quel_category,
                      caf::make_message(std::move(reason),
                                        static_cast<int64_t>(retry_hint->count()))};
  return caf::error{static_cast<uint8_t>(code), quel_category,
                    caf::make_message(std::move(reason))};
}

caf::error to_error(const adapter_failure& failure) {
  auto code = worker_errc::permanent;
  switch (failure.kind) {
    case retry_class::retryable: code = worker_errc::retryable; break;
    case retry_class::retry_once: code = worker_errc::retry_once; break;
    case retry_class::permanent: code = worker_errc::permanent; break;
    case retry_class::object_missing: code = worker_errc::object_missing; break;
  }
  return make_failure(code, failure.reason, failure.server_delay);
}

retry_class retry_class_of(const caf::error& err) {
  if (err.category() != quel_category)
    return retry_class::retryable;  // a crash (unhandled exception, broken request)
  switch (static_cast<worker_errc>(err.code())) {
    case worker_errc::retryable: return retry_class::retryable;
    case worker_errc::retry_once: return retry_class::retry_once;
    case worker_errc::object_missing: return retry_class::object_missing;
    case worker_errc::permanent:
    case worker_errc::credits_exhausted:
    case worker_errc::lease_lost:
    case worker_errc::shutting_down:
      return retry_class::permanent;
  }
  return retry_class::permanent;
}

std::optional<std::chrono::milliseconds> retry_hint_of(const caf::error& err) {
  if (!err || err.category() != quel_category)
    return std::nullopt;
  auto& ctx = err.context();
  if (ctx.size() == 2 && ctx.match_element<int64_t>(1))
    return std::chrono::milliseconds(ctx.get_as<int64_t>(1));
  return std::nullopt;
}

const backoff_policy::random_source& retry_random() {
  static const backoff_policy::random_source source = system_random();
  return source;
}

std::string reason_of(const caf::error& err) {
  if (!err)
    return {};
  if (err.category() == quel_category) {
    auto& ctx = err.context();
    if (ctx.size() >= 1 && ctx.match_element<std::string>(0))
      return ctx.get_as<std::string>(0);
  }
  if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::runtime_error)
      return "the actor crashed with an exception";
    return "actor failure: " + caf::to_string(code);
  }
  if (err.category() == caf::atom("exit"))
    return "actor exited: " + caf::to_string(static_cast<caf::exit_reason>(err.code()));
  return "unexpected error " + std::to_string(err.code());
}

bool has_code(const caf::error& err, worker_errc code) {
  return err && err.category() == quel_category
         && err.code() == static_cast<uint8_t>(code);
}

bool is_retryable(const caf::error& err) {
  if (!err)
    return false;
  auto c = retry_class_of(err);
  return c == retry_class::retryable || c == retry_class::retry_once;
}

caf::error failure_from_exception(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const adapter_error& e) {
    return to_error(e.failure());
  } catch (const database_error& e) {
    return make_failure(e.retryable() ? worker_errc::retryable : worker_errc::permanent,
                        e.what());
  } catch (const database_unavailable& e) {
    return make_failure(worker_errc::retryable,
                        std::string{"database unavailable: "} + e.what());
  } catch (const redis_unavailable& e) {
    return make_failure(worker_errc::retryable,
                        std::string{"redis unavailable: "} + e.what());
  } catch (const std::exception& e) {
    return make_failure(worker_errc::retryable, e.what());
  } catch (...) {
    return make_failure(worker_errc::retryable, "unknown exception");
  }
}

} // namespace quel
