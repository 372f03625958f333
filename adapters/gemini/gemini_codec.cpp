#include "adapters/gemini/gemini_codec.hpp"

#include "domain/image_format.hpp"

namespace quel {

namespace {

std::string input_mime(const generation_input& input, size_t position) {
  if (auto sniffed = sniff_image_mime(input.bytes.bytes()))
    return *sniffed;
  throw generation_error("input image " + std::to_string(position + 1) + " ("
                           + input.category
                           + ") is not a PNG, JPEG, WebP or HEIC/HEIF image",
                         false);
}

} // namespace

std::string gemini_url(std::string_view base_url, std::string_view model) {
  while (!base_url.empty() && base_url.back() == '/')
    base_url.remove_suffix(1);
  if (model.rfind("models/", 0) == 0)
    model.remove_prefix(7);
  std::string url(base_url);
  url += "/v1beta/models/";
  url += model;
  url += ":generateContent";
  return url;
}

http_headers gemini_headers(const std::string& api_key) {
  return {{"x-goog-api-key", api_key}, {"Content-Type", "application/json"}};
}

std::shared_ptr<const json_image_body> request_body(const generation_request& request) {
  // The MIME type sent is the one the bytes show (rule 16), checked here
  // again: the request may not come from a stage.
  auto checked = request;
  for (size_t i = 0; i < checked.inputs.size(); ++i)
    checked.inputs[i].mime_type = input_mime(checked.inputs[i], i);
  auto body = std::make_shared<const json_image_body>(gemini_request_body(checked));
  if (body->size() > gemini_max_request_bytes)
    throw generation_error("request is " + std::to_string(body->size())
                             + " bytes with its base64 images, more than the "
                             + std::to_string(gemini_max_request_bytes)
                             + " bytes (20 MiB) Gemini accepts inline",
                           false);
  return body;
}

std::string build_request_body(const generation_request& request) {
  return request_body(request)->str();
}

http_request make_gemini_request(const gemini_settings& settings,
                                 const generation_request& request) {
  http_request r;
  r.method = "POST";
  r.url = gemini_url(settings.base_url, settings.model);
  r.headers = gemini_headers(settings.api_key);
  // Streamed: the base64 of the inputs is encoded while libcurl sends it,
  // never held whole (4/3 of the inputs per call in flight otherwise).
  r.stream = request_body(request);
  r.connect_timeout = settings.connect_timeout;
  r.total_timeout = settings.timeout;
  r.max_response_bytes = settings.max_response_bytes;
  return r;
}

} // namespace quel
