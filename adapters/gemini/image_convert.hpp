#pragma once

#include "common/blob.hpp"
#include "domain/image_format.hpp"

namespace quel {

/// Re-encodes a model image (PNG, JPEG or WebP bytes) in the configured
/// output format with libvips; bytes already in that format come back
/// unchanged (same blob, no copy). Throws generation_error (retryable: a
/// corrupt reply is a glitch of that call) when the bytes cannot be decoded.
blob convert_image(const blob& image, output_format target);

} // namespace quel
