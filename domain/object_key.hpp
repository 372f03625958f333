#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace quel {

/// Longest key accepted, in bytes (Supabase Storage and S3 allow 1024).
constexpr size_t max_object_key_bytes = 1024;
/// Longest segment accepted, in bytes (NAME_MAX of Linux file systems).
constexpr size_t max_object_key_segment_bytes = 255;

/// Why a stored object key is refused (CONTRACT.md rule 13), or nullopt when
/// it is acceptable: empty, leading `/`, a `..` segment, a backslash, a
/// percent-encoded dot or slash, or a scheme (`://`); also a percent-encoded
/// backslash (`%5c`), a control character (NUL included), an empty or `.`
/// segment, and keys or segments longer than the limits above. The one key
/// validator of both storage backends: each refuses a key before any I/O or
/// request (docs/SECURITY.md, "Paths").
std::optional<std::string> object_key_problem(const std::string& key);

/// The key of an input attach row: attach_file_path when non-empty, else
/// attach_directory (legacy rows); nullopt when neither is set.
std::optional<std::string> input_key_of(const std::optional<std::string>& file_path,
                                        const std::optional<std::string>& directory);

/// The deterministic key of an output image, e.g.
/// `generated/<job_id>/s0-i1.webp` (CONTRACT.md section 4).
std::string output_key(const std::string& job_id, int stage_index,
                       int image_index, const std::string& extension);

} // namespace quel
