#include "adapters/supabase/supabase_object_store.hpp"

#include <chrono>

#include "adapters/http/http_engine.hpp"

namespace quel {

namespace {

/// Runs one transfer to its end on an engine of this call's own. The request
/// carries the connect and total timeouts of the settings, so this returns.
http_response perform(http_request request) {
  http_engine engine{http_engine_options{4, "quel-worker"}};
  std::optional<http_response> out;
  engine.submit(std::move(request), [&out](http_response&& r) { out = std::move(r); });
  while (!out)
    engine.run_once(std::chrono::milliseconds(100));
  return std::move(*out);
}

/// A key refused before any request is sent (docs/SECURITY.md, "Paths").
void refuse_bad_key(const supabase_settings& s, const std::string& key) {
  if (auto problem = storage_request_problem(s, key))
    throw storage_error(*problem, false);
}

[[noreturn]] void fail(const char* call, const storage_outcome& o) {
  auto failure = o.failure.value();
  failure.reason = std::string("Supabase Storage ") + call + ": " + failure.reason;
  throw storage_error(std::move(failure));
}

} // namespace

supabase_object_store::supabase_object_store(supabase_settings settings)
  : settings_(std::move(settings)) {}

std::optional<blob> supabase_object_store::get(const std::string& key, int64_t max_bytes) {
  refuse_bad_key(settings_, key);
  auto r = perform(make_download_request(settings_, key, max_bytes));
  auto o = classify_storage_response(r, storage_call::download, key);
  if (o.ok())
    return blob(std::move(r.body));
  if (o.failure->kind == retry_class::object_missing)
    return std::nullopt;
  fail("download", o);
}

void supabase_object_store::put(const std::string& key, const blob& bytes,
                                const std::string& content_type) {
  refuse_bad_key(settings_, key);
  auto r = perform(make_upload_request(settings_, key, bytes, content_type));
  auto o = classify_storage_response(r, storage_call::upload, key);
  if (!o.ok())
    fail("upload", o);
}

bool supabase_object_store::exists(const std::string& key) {
  refuse_bad_key(settings_, key);
  auto r = perform(make_exists_request(settings_, key));
  auto o = classify_storage_response(r, storage_call::exists, key);
  if (o.ok())
    return true;
  if (o.failure->kind == retry_class::object_missing)
    return false;
  fail("exists", o);
}

} // namespace quel
