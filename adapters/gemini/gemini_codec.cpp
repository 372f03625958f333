#include "adapters/gemini/gemini_codec.hpp"

#include <nlohmann/json.hpp>

#include "adapters/http/base64.hpp"
#include "domain/image_format.hpp"

namespace quel {

namespace {

std::string json_string(const std::string& s) {
  // Replacement instead of an exception: a stray invalid byte in a prompt
  // must not take the worker down.
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

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

std::string build_request_body(const generation_request& request) {
  size_t estimate = request.prompt.size() + 256;
  for (const auto& in : request.inputs)
    estimate += in.bytes.size() / 3 * 4 + 96;
  std::string body;
  body.reserve(estimate);
  // Built by hand rather than through a json object: inputs can add up to
  // hundreds of MB of base64, which a DOM would copy twice.
  body += R"({"contents":[{"role":"user","parts":[{"text":)";
  body += json_string(request.prompt);
  body += '}';
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const auto& in = request.inputs[i];
    body += R"(,{"inlineData":{"mimeType":)";
    body += json_string(input_mime(in, i));
    body += R"(,"data":")";
    body += base64_encode(in.bytes.bytes());
    body += "\"}}";
  }
  body += R"(]}],"generationConfig":{"responseModalities":["TEXT","IMAGE"])";
  if (request.aspect_ratio) {
    body += R"(,"imageConfig":{"aspectRatio":)";
    body += json_string(*request.aspect_ratio);
    body += '}';
  }
  body += "}}";
  return body;
}

http_request make_gemini_request(const gemini_settings& settings,
                                 const generation_request& request) {
  http_request r;
  r.method = "POST";
  r.url = gemini_url(settings.base_url, settings.model);
  r.headers = gemini_headers(settings.api_key);
  r.body = blob(build_request_body(request));
  r.connect_timeout = settings.connect_timeout;
  r.total_timeout = settings.timeout;
  r.max_response_bytes = settings.max_response_bytes;
  return r;
}

} // namespace quel
