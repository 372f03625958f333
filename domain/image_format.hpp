#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace quel {

/// Output formats the worker writes (QUEL_OUTPUT_FORMAT, rule 15).
enum class output_format { webp, png, jpeg };

/// Reads `webp`, `png`, `jpeg` or `jpg` (or the MIME type), in any case.
std::optional<output_format> parse_output_format(std::string_view name);
/// The MIME type stored as attach_file_type and Content-Type.
const char* mime_type_of(output_format f);   // image/webp, ...
/// The extension of the output key (`jpg` for JPEG).
const char* extension_of(output_format f);   // webp, png, jpg

/// The MIME type the bytes show (PNG, JPEG, WebP, HEIC/HEIF), or nullopt when
/// they are none of these (rule 16).
std::optional<std::string> sniff_image_mime(std::string_view bytes);

} // namespace quel
