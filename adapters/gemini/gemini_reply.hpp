#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "adapters/adapter_failure.hpp"
#include "adapters/http/http_message.hpp"
#include "common/blob.hpp"

namespace quel {

/// What one generateContent reply means for the worker (wire-protocols A5/A6).
enum class gemini_result {
  image,           // an image to keep
  blocked,         // promptFeedback.blockReason: permanent
  finish_refused,  // safety, prohibited content, blocklist, SPII: permanent
  no_image,        // NO_IMAGE, text only, other finish reasons, a reply over
                   // the cap: retry once
  rate_limited,    // 429 to wait out (retry_delay when the server named one)
  retryable,       // 5xx, timeout, network, 200 that is not a JSON object
  permanent,       // other 4xx, quota exhausted
};

/// Token counts from usageMetadata, for logs.
struct gemini_usage {
  int64_t prompt_tokens = 0;
  int64_t candidate_tokens = 0;
  int64_t total_tokens = 0;
};

/// A classified reply: the image, or why there is none and whether to retry.
struct gemini_outcome {
  gemini_result kind = gemini_result::permanent;
  // Set when there is no image: its retry class (from `kind`), the short
  // text for the job's error_message ("IMAGE_SAFETY", "blocked:
  // PROHIBITED_CONTENT", "quota exhausted", ...) and RetryInfo.retryDelay.
  std::optional<adapter_failure> failure;
  // Longer diagnostics for logs (the server's message, the model's text).
  std::string detail;
  blob image;              // decoded bytes of the chosen part
  std::string image_mime;  // its mimeType as sent (or sniffed when absent)
  std::string finish_reason;
  std::string model_version;
  gemini_usage usage;
  int http_status = 0;

  bool ok() const { return kind == gemini_result::image; }
};

/// Classifies a finished transfer to generateContent; never throws on
/// malformed or unexpected bodies. The failure's class follows rules 17/18:
/// blocked, refused and permanent are permanent, no_image retry_once,
/// rate_limited and retryable retryable.
gemini_outcome classify_response(const http_response& response);

/// "image", "blocked", ... for logs.
const char* to_string(gemini_result r);

} // namespace quel
