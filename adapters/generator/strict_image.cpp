#include "adapters/generator/strict_image.hpp"

#include "adapters/generator/vips_runtime.hpp"

namespace quel {

namespace {

std::string bad_data(const vips::VError& e) {
  return "truncated or corrupt image data: " + take_vips_error(e);
}

} // namespace

vips::VImage open_image_strictly(const std::string& bytes, int64_t max_pixels) {
  start_vips();
  vips::VImage image;
  try {
    // new_from_buffer reads the header only; pixels are decoded on demand.
    image = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "",
                                          vips::VImage::option()
                                            ->set("access", VIPS_ACCESS_SEQUENTIAL)
                                            ->set("fail", true));
  } catch (const vips::VError& e) {
    throw image_refused(bad_data(e));
  }
  // int64: width x height of two large ints overflows int.
  const int64_t pixels = int64_t{image.width()} * image.height();
  if (pixels > max_pixels)
    throw image_too_large("image is " + std::to_string(image.width()) + "x"
                        + std::to_string(image.height()) + " pixels, more than "
                        + "limits.max_image_pixels (" + std::to_string(max_pixels) + ")");
  return image;
}

void decode_fully(const vips::VImage& image) {
  try {
    // avg() pulls every pixel through the loader in strips: a full decode
    // without holding the image in memory.
    (void)image.avg();
  } catch (const vips::VError& e) {
    throw image_refused(bad_data(e));
  }
}

} // namespace quel
