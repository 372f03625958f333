#pragma once

#include <optional>
#include <string>

namespace quel {

/// Why a stored object key is refused (CONTRACT.md rule 13), or nullopt when
/// it is acceptable: empty, leading `/`, a `..` segment, a backslash, a
/// percent-encoded dot or slash, or a scheme (`://`); also a percent-encoded
/// backslash (`%5c`) or a control character.
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
