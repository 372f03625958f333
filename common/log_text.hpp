#pragma once

#include <cstddef>
#include <string>
#include <string_view>

/// Making untrusted text safe to write into a log line or a stored message
/// (docs/SECURITY.md, "Logs and stored text"). Job ids, attach types, object
/// keys and upstream replies come from customers and network peers: a newline
/// in one could forge a log line, an escape sequence could rewrite a
/// terminal, and a 90 MB model reply must not be written out in full.
namespace quel {

/// Length limits, in bytes, for what the worker writes about untrusted text.
inline constexpr size_t max_id_chars = 200;        // ids, types, object keys
inline constexpr size_t max_upstream_chars = 1000; // upstream text, one reason
inline constexpr size_t max_message_chars = 4000;  // a whole log message or error_message

/// At most `limit` bytes of `text` (cut on a UTF-8 character boundary); a
/// longer text ends with a marker saying how long it was.
std::string clip_text(std::string_view text, size_t limit);

/// `text` with every control character made visible, so it stays on one
/// line and cannot drive a terminal: C0 and DEL as `\n`, `\r`, `\t`,
/// `\x1b`..., C1 controls and the Unicode line/paragraph separators as
/// `\u0085`..., and bytes that are not valid UTF-8 as `\xNN`.
std::string escape_controls(std::string_view text);

/// redact_secrets() and clip_text() together, in the order that cannot leak:
/// a secret cut in two by the limit is never half-shown.
std::string redact_and_clip(std::string_view text, size_t limit);

} // namespace quel
