#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace quel {

/// Standard base64 with padding (RFC 4648 section 4), as Gemini expects.
std::string base64_encode(std::string_view bytes);

/// Decodes standard or URL-safe base64, padded or not (the proto3 JSON rules
/// for `bytes`); nullopt when the text is not base64.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace quel
