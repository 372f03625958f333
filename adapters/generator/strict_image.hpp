#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <vips/vips8>

/// Strict decoding of images that come from outside (a model's reply, an
/// input read from storage). libvips is lenient by default: a truncated PNG
/// or JPEG decodes with a warning and grey rows, and it allocates whatever
/// the header claims, so a small file saying 16000x16000 costs gigabytes.
/// Here the header is read first (libvips loads lazily) and its size capped
/// before any pixel is decoded, and every decode fails on truncated or
/// corrupt data. No CAF, no retry classes: callers decide what a refusal
/// means (a bad model reply, a bad input).
namespace quel {

/// Why an image was refused; what() names the problem ("truncated or
/// corrupt image data: ...", "image is 16000x16000 pixels, more than ...").
class image_refused : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The refusal of a header whose width x height exceeds the cap.
class image_too_large : public image_refused {
public:
  using image_refused::image_refused;
};

/// Opens `bytes` (borrowed: they must outlive the image) with its header
/// read and nothing decoded yet, in sequential access and with fail=true so
/// a later decode stops at the first truncated or corrupt row. Throws
/// image_refused when the header cannot be read, image_too_large when
/// width x height exceeds `max_pixels`. Calls start_vips().
vips::VImage open_image_strictly(const std::string& bytes, int64_t max_pixels);

/// Decodes every pixel of an image opened by open_image_strictly, streaming
/// (memory stays a few rows), so bad data is found now. Throws
/// image_refused.
void decode_fully(const vips::VImage& image);

} // namespace quel
