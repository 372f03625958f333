#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/blob.hpp"
#include "common/body_source.hpp"
#include "domain/generation.hpp"

namespace quel {

/// The most bytes one Gemini generateContent request may have: the total
/// request with its base64 inline data "should stay under 20 MB"
/// (docs/wire-protocols.md A7; MB = 2^20 bytes as everywhere in the
/// contract, rule 10). A larger request fails before any call.
constexpr int64_t gemini_max_request_bytes = int64_t{20} << 20;

/// The most bytes of one Gemini reply. The worker never asks for an
/// imageSize, so the model answers at its 1K default: even an uncompressed
/// 1K PNG (about 1.1 megapixels, 4.3 MiB RGBA) is under 6 MiB as base64, and
/// a Gemini 3 reply adds at most two interim "thought" images of that size.
/// 16 MiB holds all three with room for text; a larger reply is a bad reply.
constexpr int64_t gemini_max_reply_bytes = int64_t{16} << 20;

/// Length of the padded base64 text of `raw` bytes.
constexpr int64_t base64_size(int64_t raw) { return (raw + 2) / 3 * 4; }

/// A JSON body of literal text with image bytes spliced in as base64, which
/// is encoded while the body is read: only the text parts (prompt, MIME
/// types, structure) are held in memory, the base64 (4/3 of every input)
/// never is.
class json_image_body : public body_source {
public:
  /// Appends literal JSON text.
  void text(std::string_view s);
  /// Appends the base64 text of `bytes` (the blob is shared, not copied).
  void base64_of(blob bytes);

  int64_t size() const override { return size_; }
  size_t read(int64_t offset, char* out, size_t max) const override;

  /// Bytes held for the literal text (what the body costs in memory).
  int64_t text_bytes() const { return text_bytes_; }

  /// The whole body as one string (tests, small bodies).
  std::string str() const;

private:
  struct piece {
    int64_t start = 0;  // offset of the piece in the body
    std::string text;   // literal, or empty for a base64 piece
    blob data;          // base64 piece when set
    int64_t size() const { return text.empty() ? base64_size(data.size())
                                               : static_cast<int64_t>(text.size()); }
  };
  std::vector<piece> pieces_;
  int64_t size_ = 0;
  int64_t text_bytes_ = 0;
};

/// The generateContent body for `request` (wire-protocols A2/A3): one user
/// turn with the prompt as its text part, one inlineData part per input in
/// order (MIME type from generation_input::mime_type), responseModalities
/// and the aspect ratio.
json_image_body gemini_request_body(const generation_request& request);

/// The size of that body for inputs of the given sizes (MIME types of the
/// longest kind assumed), without any image bytes: an upper bound of
/// gemini_request_body(...).size() that is exact up to a byte per PNG.
int64_t gemini_request_size(const std::string& prompt,
                            const std::optional<std::string>& aspect_ratio,
                            const std::vector<int64_t>& input_sizes);

} // namespace quel
