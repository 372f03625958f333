#include "actors/supabase_storage_actors.hpp"

#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

/// The error for a failed storage reply (max_bytes names the size cap).
caf::error failure_of(const storage_outcome& o, const http_response& r,
                      const std::string& key, int64_t max_bytes = 0) {
  if (r.failure == http_failure::too_large)
    return make_failure(worker_errc::permanent,
                        "object " + key + " is larger than the limit of "
                          + std::to_string(max_bytes) + " bytes");
  switch (o.kind) {
    case storage_result::missing:
      return make_failure(worker_errc::object_missing, "object not found: " + key);
    case storage_result::retryable:
      return make_failure(worker_errc::retryable, o.reason);
    default:
      return make_failure(worker_errc::permanent, o.reason);
  }
}

void log_failure(const char* call, const std::string& key, const storage_outcome& o) {
  log::warn(std::string("Supabase Storage ") + call + " failed",
            {{"key", key}, {"status", std::to_string(o.effective_status)},
             {"reason", o.reason}});
}

/// A key refused before any request is sent (docs/SECURITY.md, "Paths").
std::optional<caf::error> refused(const supabase_settings& s, const std::string& key) {
  if (auto problem = storage_request_problem(s, key))
    return make_failure(worker_errc::permanent, *problem);
  return std::nullopt;
}

caf::error engine_gone(const caf::error& err) {
  return make_failure(worker_errc::retryable, "storage call failed: " + reason_of(err));
}

} // namespace

fetch_actor::behavior_type supabase_fetch_actor_impl(fetch_actor::pointer self,
                                                     supabase_settings settings,
                                                     http_engine_actor engine) {
  auto s = std::make_shared<const supabase_settings>(std::move(settings));
  return {
    [self, s, engine](fetch_atom, const std::string& key,
                      int64_t max_bytes) -> caf::result<blob> {
      if (auto err = refused(*s, key))
        return std::move(*err);
      if (fault::roll_failure(fault::adapter::storage))
        return make_failure(worker_errc::retryable, "injected storage fault");
      auto rp = self->make_response_promise<blob>();
      self->request(engine, caf::infinite, http_atom::value,
                    make_download_request(*s, key, max_bytes))
        .then(
          [rp, key, max_bytes](http_response& r) mutable {
            auto o = classify_storage_response(r);
            if (o.ok()) {
              rp.deliver(blob(std::move(r.body)));
              return;
            }
            log_failure("download", key, o);
            rp.deliver(failure_of(o, r, key, max_bytes));
          },
          [rp](caf::error& err) mutable { rp.deliver(engine_gone(err)); });
      return rp;
    },
    [self, s, engine](exists_atom, const std::string& key) -> caf::result<bool> {
      if (auto err = refused(*s, key))
        return std::move(*err);
      if (fault::roll_failure(fault::adapter::storage))
        return make_failure(worker_errc::retryable, "injected storage fault");
      auto rp = self->make_response_promise<bool>();
      self->request(engine, caf::infinite, http_atom::value, make_exists_request(*s, key))
        .then(
          [rp, key](const http_response& r) mutable {
            auto o = classify_storage_response(r);
            if (o.ok()) {
              rp.deliver(true);
              return;
            }
            if (o.kind == storage_result::missing) {
              rp.deliver(false);
              return;
            }
            log_failure("exists", key, o);
            rp.deliver(failure_of(o, r, key));
          },
          [rp](caf::error& err) mutable { rp.deliver(engine_gone(err)); });
      return rp;
    },
  };
}

store_actor::behavior_type supabase_store_actor_impl(store_actor::pointer self,
                                                     supabase_settings settings,
                                                     http_engine_actor engine) {
  auto s = std::make_shared<const supabase_settings>(std::move(settings));
  return {
    [self, s, engine](store_atom, const std::string& key, const blob& bytes,
                      const std::string& content_type) -> caf::result<int64_t> {
      if (auto err = refused(*s, key))
        return std::move(*err);
      if (fault::roll_failure(fault::adapter::storage))
        return make_failure(worker_errc::retryable, "injected storage fault");
      auto rp = self->make_response_promise<int64_t>();
      auto size = static_cast<int64_t>(bytes.size());
      self->request(engine, caf::infinite, http_atom::value,
                    make_upload_request(*s, key, bytes, content_type))
        .then(
          [rp, key, size](const http_response& r) mutable {
            auto o = classify_storage_response(r);
            if (o.ok()) {
              rp.deliver(size);
              return;
            }
            log_failure("upload", key, o);
            // A 404 on upload means the bucket is missing: not an input
            // object, so it must not read as "object missing".
            if (o.kind == storage_result::missing) {
              rp.deliver(make_failure(worker_errc::permanent, o.reason));
              return;
            }
            rp.deliver(failure_of(o, r, key));
          },
          [rp](caf::error& err) mutable { rp.deliver(engine_gone(err)); });
      return rp;
    },
  };
}

} // namespace quel
