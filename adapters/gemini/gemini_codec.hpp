#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/gemini/gemini_reply.hpp"
#include "adapters/generator/image_generator.hpp"
#include "adapters/http/http_message.hpp"
#include "domain/job_spec.hpp"
#include "domain/model_request.hpp"

namespace quel {

/// Where and how to call the Gemini API (the key is a secret: never log it).
struct gemini_settings {
  std::string base_url = "https://generativelanguage.googleapis.com";
  std::string api_key;
  std::string model = "gemini-3.1-flash-image";
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{120000};
  /// Reply cap: near what the model can send (domain/model_request.hpp).
  int64_t max_response_bytes = gemini_max_reply_bytes;
  /// Cap on a reply image's width x height (limits.max_image_pixels).
  int64_t max_image_pixels = job_limits{}.max_image_pixels;
};

/// `{base}/v1beta/models/{model}:generateContent` (a trailing slash of the
/// base and a leading "models/" of the id are tolerated).
std::string gemini_url(std::string_view base_url, std::string_view model);

/// x-goog-api-key and Content-Type: application/json.
http_headers gemini_headers(const std::string& api_key);

/// The JSON body (gemini_request_body), streamed: one user turn with the
/// prompt as its text part, then one inlineData part per input in order,
/// plus responseModalities and the aspect ratio. Throws generation_error
/// (permanent) for an input whose bytes are not a supported image and for a
/// body over gemini_max_request_bytes.
std::shared_ptr<const json_image_body> request_body(const generation_request& request);

/// The same body as one string (tests).
std::string build_request_body(const generation_request& request);

/// The complete POST for one image, ready for http_engine::submit.
http_request make_gemini_request(const gemini_settings& settings,
                                 const generation_request& request);

} // namespace quel
