#include "adapters/gemini/image_convert.hpp"

#include <vips/vips8>

#include <string>
#include <vector>

#include "adapters/generator/image_generator.hpp"
#include "adapters/generator/strict_image.hpp"
#include "adapters/generator/vips_runtime.hpp"

namespace quel {

namespace {

generation_error unusable(const std::string& why) {
  return generation_error(
    adapter_failure{retry_class::retry_once, "model image unusable: " + why, {}});
}

} // namespace

blob convert_image(const blob& image, output_format target, int64_t max_pixels) {
  try {
    // Every pixel is decoded once on its own first, so bad data is named
    // as such (and not as a failed conversion), and bytes already in the
    // output format are stored as they came only once they have decoded.
    // The cost, a second decode, is milliseconds beside the model call.
    decode_fully(open_image_strictly(image.bytes(), max_pixels));
    auto mime = sniff_image_mime(image.bytes());
    if (mime && *mime == mime_type_of(target))
      return image;
    // Sequential access reads an image once: open it again to convert,
    // decoded whole before any encoder runs. A decode that fails (libvips
    // 8.14 is not always consistent on bad data across threads) then fails
    // here, not halfway through a save, where webpsave leaks its output
    // buffer (found by tests/fuzz/fuzz_image_convert.cpp). The pixels are
    // bounded by limits.max_image_pixels.
    auto in = open_image_strictly(image.bytes(), max_pixels).copy_memory();
    if (target == output_format::jpeg && in.has_alpha())
      in = in.flatten(
        vips::VImage::option()->set("background", std::vector<double>{255.0}));
    void* out = nullptr;
    size_t size = 0;
    // libvips picks the encoder by the suffix: the output key's extension.
    auto suffix = std::string(".") + extension_of(target);
    in.write_to_buffer(suffix.c_str(), &out, &size);
    std::string bytes(static_cast<const char*>(out), size);
    g_free(out);
    return blob(std::move(bytes));
  } catch (const image_refused& e) {
    throw unusable(e.what());
  } catch (const vips::VError& e) {
    throw unusable("could not be converted: " + take_vips_error(e));
  }
}

} // namespace quel
