#include "adapters/gemini/image_convert.hpp"

#include <vips/vips8>

#include <string>
#include <vector>

#include "adapters/generator/image_generator.hpp"
#include "adapters/generator/vips_runtime.hpp"

namespace quel {

blob convert_image(const blob& image, output_format target) {
  auto mime = sniff_image_mime(image.bytes());
  if (mime && *mime == mime_type_of(target))
    return image;
  start_vips();
  try {
    auto in = vips::VImage::new_from_buffer(image.bytes().data(), image.size(), "",
                                            vips::VImage::option()->set(
                                              "access", VIPS_ACCESS_SEQUENTIAL));
    // Decoded whole before any encoder runs: a corrupt image then fails
    // here, not halfway through a save, where libvips 8.14's webpsave leaks
    // its output buffer (found by tests/fuzz/fuzz_image_convert.cpp).
    in = in.copy_memory();
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
  } catch (const vips::VError& e) {
    throw generation_error(std::string("model image could not be converted: ")
                             + take_vips_error(e),
                           true);
  }
}

} // namespace quel
