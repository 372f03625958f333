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
    auto in = open_image_strictly(image.bytes(), max_pixels);
    auto mime = sniff_image_mime(image.bytes());
    if (mime && *mime == mime_type_of(target)) {
      // Already in the output format: stored byte for byte, but only once
      // every pixel has decoded.
      decode_fully(in);
      return image;
    }
    if (target == output_format::jpeg && in.has_alpha())
      in = in.flatten(
        vips::VImage::option()->set("background", std::vector<double>{255.0}));
    void* out = nullptr;
    size_t size = 0;
    // libvips picks the encoder by the suffix: the output key's extension.
    // The loader was opened with fail=true, so a truncated row fails here.
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
