#pragma once

#include <cstdint>

#include "common/blob.hpp"
#include "domain/image_format.hpp"
#include "domain/job_spec.hpp"

namespace quel {

/// Re-encodes a model image (PNG, JPEG or WebP bytes) in the configured
/// output format with libvips. The bytes are never trusted: the header's
/// size is capped at `max_pixels` before anything is decoded, and every
/// pixel is decoded strictly, so truncated or corrupt data is refused even
/// when the bytes are already in the output format (those then come back
/// unchanged: same blob, no copy). A refused image is a model reply without
/// a usable image: generation_error of class retry_once (CONTRACT.md rule
/// 18, as the Gemini classifier treats a reply without an image).
blob convert_image(const blob& image, output_format target,
                   int64_t max_pixels = job_limits{}.max_image_pixels);

} // namespace quel
