#include "actors/supabase_storage_actors.hpp"

#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

/// Logs a failed reply and returns its actor error.
caf::error failed(const char* call, const std::string& key, const storage_outcome& o) {
  const auto& failure = o.failure.value();
  log::warn(std::string("Supabase Storage ") + call + " failed",
            {{"key", key}, {"status", std::to_string(o.effective_status)},
             {"code", o.code}, {"retry_class", to_string(failure.kind)},
             {"reason", failure.reason}});
  return to_error(failure);
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
          [rp, key](http_response& r) mutable {
            auto o = classify_storage_response(r, storage_call::download, key);
            if (o.ok())
              rp.deliver(blob(std::move(r.body)));
            else
              rp.deliver(failed("download", key, o));
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
            auto o = classify_storage_response(r, storage_call::exists, key);
            if (o.ok() || o.failure->kind == retry_class::object_missing)
              rp.deliver(o.ok());
            else
              rp.deliver(failed("exists", key, o));
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
            auto o = classify_storage_response(r, storage_call::upload, key);
            if (o.ok())
              rp.deliver(size);
            else
              rp.deliver(failed("upload", key, o));
          },
          [rp](caf::error& err) mutable { rp.deliver(engine_gone(err)); });
      return rp;
    },
  };
}

} // namespace quel
