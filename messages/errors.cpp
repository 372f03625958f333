#include "messages/errors.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>

#include "adapters/generator/image_generator.hpp"
#include "adapters/postgres/job_store.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "adapters/storage/object_store.hpp"
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
  if (err.category() == quel_category)
    return err.code() == static_cast<uint8_t>(worker_errc::retryable)
           || err.code() == static_cast<uint8_t>(worker_errc::retry_once);
  // A crash (unhandled exception, broken request) is worth a restart.
  return true;
}

caf::error failure_from_exception(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const generation_error& e) {
    return make_failure(e.retryable() ? worker_errc::retryable
                                      : worker_errc::permanent,
                        e.what());
  } catch (const storage_error& e) {
    return make_failure(e.retryable() ? worker_errc::retryable
                                      : worker_errc::permanent,
                        e.what());
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
