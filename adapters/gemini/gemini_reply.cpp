#include "adapters/gemini/gemini_reply.hpp"

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "adapters/http/base64.hpp"
#include "adapters/http/retry_policy.hpp"
#include "domain/image_format.hpp"

namespace quel {

namespace {

using json = nlohmann::json;

constexpr size_t snippet_chars = 200;
constexpr auto max_honoured_delay = std::chrono::seconds(60);

/// At most `n` bytes of `s`, cut on a UTF-8 character boundary.
std::string snippet(std::string_view s, size_t n = snippet_chars) {
  if (s.size() <= n)
    return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return std::string(s.substr(0, n)) + "...";
}

/// The member under its camelCase or snake_case name, or nullptr.
const json* member(const json& obj, const char* camel, const char* snake = nullptr) {
  if (!obj.is_object())
    return nullptr;
  auto it = obj.find(camel);
  if (it != obj.end())
    return &*it;
  if (snake != nullptr) {
    it = obj.find(snake);
    if (it != obj.end())
      return &*it;
  }
  return nullptr;
}

/// An enum or string field as text: unknown or odd values never throw.
std::string text_of(const json* v) {
  if (v == nullptr || v->is_null())
    return {};
  if (v->is_string())
    return v->get<std::string>();
  return v->dump();
}

/// A token count: a whole number in 0..INT64_MAX, else 0. A float such as
/// 1e300 must not be converted (undefined behaviour; it came out INT64_MIN).
int64_t count_of(const json& usage, const char* name) {
  const json* v = member(usage, name);
  if (v == nullptr)
    return 0;
  if (v->is_number_unsigned())
    return v->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)
             ? static_cast<int64_t>(v->get<uint64_t>())
             : 0;
  if (v->is_number_integer())
    return std::max<int64_t>(v->get<int64_t>(), 0);
  return 0;
}

bool names_refusal(const std::string& finish) {
  for (const char* word : {"SAFETY", "PROHIBITED", "BLOCKLIST", "SPII"})
    if (finish.find(word) != std::string::npos)
      return true;
  return false;
}

void read_metadata(const json& body, gemini_outcome& out) {
  out.model_version = text_of(member(body, "modelVersion", "model_version"));
  if (const json* usage = member(body, "usageMetadata", "usage_metadata")) {
    out.usage.prompt_tokens = count_of(*usage, "promptTokenCount");
    out.usage.candidate_tokens = count_of(*usage, "candidatesTokenCount");
    out.usage.total_tokens = count_of(*usage, "totalTokenCount");
  }
}

/// The retry class of each kind of reply (rules 17/18): the only mapping.
retry_class class_of(gemini_result kind) {
  switch (kind) {
    case gemini_result::no_image:
      return retry_class::retry_once;
    case gemini_result::rate_limited:
    case gemini_result::retryable:
      return retry_class::retryable;
    case gemini_result::image:  // not a failure; never asked
    case gemini_result::blocked:
    case gemini_result::finish_refused:
    case gemini_result::permanent:
      return retry_class::permanent;
  }
  return retry_class::permanent;
}

/// Makes `out` a failure of `kind` with `reason`.
gemini_outcome& set_failure(gemini_outcome& out, gemini_result kind, std::string reason,
                            std::optional<std::chrono::milliseconds> delay = {}) {
  out.kind = kind;
  out.failure = adapter_failure{class_of(kind), std::move(reason), delay};
  return out;
}

gemini_outcome fail(gemini_result kind, std::string reason, std::string detail = {}) {
  gemini_outcome out;
  out.detail = std::move(detail);
  return set_failure(out, kind, std::move(reason));
}

/// A 200 reply: an image, or the reason there is none.
gemini_outcome classify_success(const json& body) {
  gemini_outcome out;
  read_metadata(body, out);
  auto with = [&](gemini_result kind, std::string reason, std::string detail = {}) {
    out.detail = std::move(detail);
    return set_failure(out, kind, std::move(reason));
  };

  if (const json* feedback = member(body, "promptFeedback", "prompt_feedback")) {
    auto block = text_of(member(*feedback, "blockReason", "block_reason"));
    if (!block.empty())
      return with(gemini_result::blocked, "blocked: " + block,
                  text_of(member(*feedback, "blockReasonMessage")));
  }
  const json* candidates = member(body, "candidates");
  if (candidates == nullptr || !candidates->is_array() || candidates->empty())
    return with(gemini_result::no_image, "no candidates");

  const json& candidate = candidates->front();
  out.finish_reason = text_of(member(candidate, "finishReason", "finish_reason"));
  auto finish_message = text_of(member(candidate, "finishMessage", "finish_message"));
  if (names_refusal(out.finish_reason))
    return with(gemini_result::finish_refused, out.finish_reason, finish_message);

  std::string text;
  const json* image_part = nullptr;
  const json* content = member(candidate, "content");
  const json* parts = content != nullptr ? member(*content, "parts") : nullptr;
  if (parts != nullptr && parts->is_array()) {
    for (const json& part : *parts) {
      const json* thought = member(part, "thought");
      if (thought != nullptr && thought->is_boolean() && thought->get<bool>())
        continue;  // interim "thinking" output, possibly an image draft
      const json* inline_data = member(part, "inlineData", "inline_data");
      if (inline_data != nullptr && !text_of(member(*inline_data, "data")).empty())
        image_part = inline_data;  // the last one is the final image
      if (const json* t = member(part, "text"); t != nullptr && t->is_string())
        text += t->get<std::string>();
    }
  }

  if (image_part != nullptr) {
    auto bytes = base64_decode(text_of(member(*image_part, "data")));
    if (!bytes || bytes->empty())
      return with(gemini_result::retryable, "malformed image data in reply");
    out.image_mime = text_of(member(*image_part, "mimeType", "mime_type"));
    if (out.image_mime.empty())
      out.image_mime = sniff_image_mime(*bytes).value_or("application/octet-stream");
    out.image = blob(std::move(*bytes));
    out.kind = gemini_result::image;
    return out;
  }
  if (!out.finish_reason.empty() && out.finish_reason != "STOP")
    return with(gemini_result::no_image, out.finish_reason,
                finish_message.empty() ? snippet(text) : finish_message);
  if (!text.empty())
    return with(gemini_result::no_image, "text only: " + snippet(text), text);
  return with(gemini_result::no_image, "no image in reply");
}

/// Quota rules of a 429: a per-day quota or a delay over 60 s cannot be
/// waited out within one image's retry budget.
gemini_outcome classify_rate_limit(const json* error, gemini_outcome out,
                                   std::string reason) {
  bool per_day = false;
  std::optional<std::chrono::milliseconds> delay;
  const json* details = error != nullptr ? member(*error, "details") : nullptr;
  if (details != nullptr && details->is_array()) {
    for (const json& d : *details) {
      if (const json* v = member(d, "violations"); v != nullptr && v->is_array())
        for (const json& violation : *v)
          if (text_of(member(violation, "quotaId", "quota_id")).find("PerDay")
              != std::string::npos)
            per_day = true;
      if (const json* rd = member(d, "retryDelay", "retry_delay"))
        delay = parse_proto_duration(text_of(rd));
    }
  }
  if (per_day || (delay && *delay > max_honoured_delay))
    return set_failure(out, gemini_result::permanent, "quota exhausted");
  return set_failure(out, gemini_result::rate_limited, std::move(reason), delay);
}

/// A non-2xx reply: google.rpc.Status inside "error", maybe in a
/// one-element array, or not JSON at all (gateways).
gemini_outcome classify_error(const http_response& r) {
  gemini_outcome out;
  json body = json::parse(r.body, nullptr, false);
  if (body.is_array() && body.size() == 1)
    body = body.front();
  const json* error = member(body, "error");
  std::string status_text = error != nullptr ? text_of(member(*error, "status")) : "";
  std::string message = error != nullptr ? text_of(member(*error, "message"))
                                         : snippet(r.body);
  std::string reason = "HTTP " + std::to_string(r.status);
  if (!status_text.empty())
    reason += " " + status_text;
  if (!message.empty())
    reason += ": " + snippet(message, 300);
  out.detail = message;
  if (r.status == 429)
    return classify_rate_limit(error, std::move(out), std::move(reason));
  return set_failure(out, r.status >= 500 ? gemini_result::retryable
                                          : gemini_result::permanent,
                     std::move(reason));
}

} // namespace

gemini_outcome classify_response(const http_response& r) {
  gemini_outcome out;
  switch (r.failure) {
    case http_failure::none:
      break;
    case http_failure::timeout:
    case http_failure::network:
      out = fail(gemini_result::retryable, std::string(to_string(r.failure)), r.error);
      out.http_status = r.status;
      return out;
    case http_failure::too_large:
      // Over the reply cap (near the most the model sends): a bad reply,
      // retried once like a reply without an image, never held in full.
      out = fail(gemini_result::no_image, "model reply too large: " + r.error, r.error);
      out.http_status = r.status;
      return out;
    case http_failure::cancelled:
      out = fail(gemini_result::permanent, std::string(to_string(r.failure)), r.error);
      out.http_status = r.status;
      return out;
  }
  if (r.status >= 200 && r.status < 300) {
    json body = json::parse(r.body, nullptr, false);
    if (!body.is_object())
      out = fail(gemini_result::retryable, "malformed reply: " + snippet(r.body));
    else
      out = classify_success(body);
  } else {
    out = classify_error(r);
  }
  out.http_status = r.status;
  return out;
}

const char* to_string(gemini_result r) {
  switch (r) {
    case gemini_result::image: return "image";
    case gemini_result::blocked: return "blocked";
    case gemini_result::finish_refused: return "finish_refused";
    case gemini_result::no_image: return "no_image";
    case gemini_result::rate_limited: return "rate_limited";
    case gemini_result::retryable: return "retryable";
    case gemini_result::permanent: return "permanent";
  }
  return "unknown";
}

} // namespace quel
