#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/adapter_failure.hpp"
#include "adapters/http/http_message.hpp"
#include "common/blob.hpp"

namespace quel {

/// Where and how to reach Supabase Storage (the key is a secret).
struct supabase_settings {
  std::string url;  // project URL, e.g. https://abc.supabase.co (rule 14)
  std::string key;  // sb_secret_... or a legacy service_role JWT
  std::string bucket = "images";
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{60000};
  std::string cache_control = "max-age=3600";
};

/// The project URL plus "/storage/v1", without a trailing slash.
std::string storage_base_url(std::string_view project_url);

/// Percent-encodes each segment of an object key, keeping the '/' between
/// them (what supabase-js's encodeStoragePath does).
std::string encode_object_path(std::string_view key);

/// `{base}/object/{bucket}/{key}` with bucket and key segments encoded.
std::string object_url(std::string_view base_url, std::string_view bucket,
                       std::string_view key);

/// Why no request may be sent for `key` (docs/SECURITY.md, "Paths"): the key
/// fails object_key_problem(), the base URL is not http(s), or the URL built
/// would leave the configured base URL. nullopt when the request may go.
std::optional<std::string> storage_request_problem(const supabase_settings& settings,
                                                   const std::string& key);

/// `apikey` only for an sb_secret_ key; `apikey` plus `Authorization:
/// Bearer` for any other key (rule 14).
http_headers supabase_auth_headers(const std::string& key);

/// POST with x-upsert: true, so writing a key again overwrites it.
http_request make_upload_request(const supabase_settings& settings, const std::string& key,
                                 const blob& bytes, const std::string& content_type);

/// GET of the whole object; the engine aborts it past `max_bytes`.
http_request make_download_request(const supabase_settings& settings,
                                   const std::string& key, int64_t max_bytes);

/// GET of the first byte only: a HEAD would lose the error body that says
/// whether the object is missing or access was denied.
http_request make_exists_request(const supabase_settings& settings, const std::string& key);

/// The call a storage reply answers: a 404 means something else for each.
enum class storage_call {
  download,  // 404: the input object is missing (object_missing)
  exists,    // 404: the object is not there (object_missing; the answer is false)
  upload,    // 404: the bucket is missing (permanent, not an input object)
};

/// A classified storage reply (wire-protocols B4).
struct storage_outcome {
  std::optional<adapter_failure> failure;  // nullopt for a 2xx reply
  int effective_status = 0;  // body.statusCode when present, else HTTP status
  std::string code;          // NoSuchKey, KeyAlreadyExists, ... when given

  bool ok() const { return !failure; }
};

/// Classifies a finished storage transfer of `call` on object `key`: 2xx ok;
/// otherwise the effective status decides (404 see storage_call; 429, 5xx,
/// 544 retryable; other 4xx permanent); timeouts and network errors are
/// retryable, an oversized reply permanent.
storage_outcome classify_storage_response(const http_response& response, storage_call call,
                                          const std::string& key);

} // namespace quel
