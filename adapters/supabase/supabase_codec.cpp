#include "adapters/supabase/supabase_codec.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "domain/object_key.hpp"

namespace quel {

namespace {

using json = nlohmann::json;

bool is_secret_key(const std::string& key) {
  return key.rfind("sb_secret_", 0) == 0;
}

// encodeURIComponent's set: everything else is escaped.
bool keep_verbatim(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
         || c == '-' || c == '_' || c == '.' || c == '!' || c == '~' || c == '*'
         || c == '\'' || c == '(' || c == ')';
}

std::string snippet(std::string_view s, size_t n = 200) {
  if (s.size() <= n)
    return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return std::string(s.substr(0, n)) + "...";
}

std::string text_of(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null())
    return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

/// body.statusCode as a number ("404" or 404), or 0.
int status_in_body(const json& body) {
  auto it = body.find("statusCode");
  if (it == body.end())
    return 0;
  if (it->is_number_integer())
    return it->get<int>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size())
      return static_cast<int>(v);
  }
  return 0;
}

http_request base_request(const supabase_settings& s, const std::string& key) {
  http_request r;
  r.url = object_url(storage_base_url(s.url), s.bucket, key);
  r.headers = supabase_auth_headers(s.key);
  r.connect_timeout = s.connect_timeout;
  r.total_timeout = s.timeout;
  return r;
}

} // namespace

std::string storage_base_url(std::string_view project_url) {
  while (!project_url.empty() && project_url.back() == '/')
    project_url.remove_suffix(1);
  std::string base(project_url);
  constexpr std::string_view suffix = "/storage/v1";
  if (base.size() < suffix.size()
      || base.compare(base.size() - suffix.size(), suffix.size(), suffix) != 0)
    base += suffix;
  return base;
}

std::string encode_object_path(std::string_view key) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size() * 3 / 2);
  for (char ch : key) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '/' || keep_verbatim(c)) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string object_url(std::string_view base_url, std::string_view bucket,
                       std::string_view key) {
  std::string url(base_url);
  url += "/object/";
  url += encode_object_path(bucket);
  url += '/';
  url += encode_object_path(key);
  return url;
}

std::optional<std::string> storage_request_problem(const supabase_settings& s,
                                                   const std::string& key) {
  if (auto problem = object_key_problem(key))
    return problem;
  auto base = storage_base_url(s.url);
  if (base.rfind("https://", 0) != 0 && base.rfind("http://", 0) != 0)
    return std::string("storage URL is not http(s)");
  // Every byte of the key that could end the path ('?', '#', '@', ':') is
  // percent-encoded; this checks the result anyway, so that no key can
  // change the scheme, host or the path below the base.
  auto url = object_url(base, s.bucket, key);
  auto prefix = base + "/object/";
  if (url.compare(0, prefix.size(), prefix) != 0
      || url.find_first_of("?#", prefix.size()) != std::string::npos)
    return "object key \"" + key + "\" would leave the storage URL";
  return std::nullopt;
}

http_headers supabase_auth_headers(const std::string& key) {
  if (is_secret_key(key))
    return {{"apikey", key}};
  return {{"apikey", key}, {"Authorization", "Bearer " + key}};
}

http_request make_upload_request(const supabase_settings& settings, const std::string& key,
                                 const blob& bytes, const std::string& content_type) {
  auto r = base_request(settings, key);
  r.method = "POST";
  r.body = bytes;
  r.headers.emplace_back("Content-Type", content_type);
  r.headers.emplace_back("Cache-Control", settings.cache_control);
  r.headers.emplace_back("x-upsert", "true");
  r.max_response_bytes = 1 << 20;  // the reply is a small JSON object
  return r;
}

http_request make_download_request(const supabase_settings& settings,
                                   const std::string& key, int64_t max_bytes) {
  auto r = base_request(settings, key);
  r.method = "GET";
  r.max_response_bytes = max_bytes;
  return r;
}

http_request make_exists_request(const supabase_settings& settings, const std::string& key) {
  auto r = base_request(settings, key);
  r.method = "GET";
  r.headers.emplace_back("Range", "bytes=0-0");
  r.max_response_bytes = 1 << 20;
  return r;
}

storage_outcome classify_storage_response(const http_response& r, storage_call call,
                                          const std::string& key) {
  storage_outcome out;
  out.effective_status = r.status;
  switch (r.failure) {
    case http_failure::none:
      break;
    case http_failure::timeout:
    case http_failure::network:
      out.failure = adapter_failure{retry_class::retryable,
                                    std::string("storage ") + to_string(r.failure) + ": "
                                      + r.error,
                                    {}};
      return out;
    case http_failure::too_large:
    case http_failure::cancelled:
      out.failure = adapter_failure{retry_class::permanent, "object " + key + ": " + r.error, {}};
      return out;
  }
  if (r.status >= 200 && r.status < 300)
    return out;
  json body = json::parse(r.body, nullptr, false);
  std::string message = snippet(r.body);
  if (body.is_object()) {
    if (int in_body = status_in_body(body); in_body > 0)
      out.effective_status = in_body;
    out.code = text_of(body, "code");
    message = text_of(body, "message");
    if (message.empty())
      message = text_of(body, "error");
  }
  int s = out.effective_status;
  std::string reason = "storage HTTP " + std::to_string(r.status);
  if (s != r.status)
    reason += " (statusCode " + std::to_string(s) + ")";
  if (!out.code.empty())
    reason += " " + out.code;
  if (!message.empty())
    reason += ": " + snippet(message);

  if (s == 404 && call != storage_call::upload)
    out.failure = object_missing(key);
  else if (s == 429 || s >= 500)  // 544 (database timeout) included
    out.failure = adapter_failure{retry_class::retryable, std::move(reason), {}};
  else  // an upload's 404 (no bucket) included
    out.failure = adapter_failure{retry_class::permanent, std::move(reason), {}};
  return out;
}

} // namespace quel
