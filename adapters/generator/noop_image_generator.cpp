#include "adapters/generator/noop_image_generator.hpp"

#include <vips/vips8>

#include <glib.h>

#include "adapters/generator/vips_runtime.hpp"

namespace quel {

namespace {

// An 8x8 mid-grey RGB image encoded by libvips (so it is valid for every
// decoder the worker or a test uses), e.g. ".webp".
blob encode_once(const char* suffix) {
  auto image = vips::VImage::black(8, 8, vips::VImage::option()->set("bands", 3))
                 .linear(1.0, 128.0)
                 .cast(VIPS_FORMAT_UCHAR);
  void* out = nullptr;
  size_t size = 0;
  image.write_to_buffer(suffix, &out, &size);
  std::string bytes(static_cast<const char*>(out), size);
  g_free(out);
  return blob{std::move(bytes)};
}

} // namespace

noop_image_generator::noop_image_generator() {
  start_vips();
  webp_ = encode_once(".webp");
  png_ = encode_once(".png");
  jpeg_ = encode_once(".jpg");
}

generated_image noop_image_generator::generate(const generation_request& request) {
  generated_image out;
  switch (request.format) {
  case output_format::webp: out.bytes = webp_; break;
  case output_format::png: out.bytes = png_; break;
  case output_format::jpeg: out.bytes = jpeg_; break;
  }
  out.mime_type = mime_type_of(request.format);
  out.model_version = "noop";
  return out;
}

} // namespace quel
