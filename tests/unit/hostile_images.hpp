#pragma once

// Hostile encoded images shared by the media and http unit tests: valid
// ones cut short, corrupt ones, and a decompression bomb. Header only (the
// test support library does not link libvips).
#include <sys/resource.h>

#include <cstdint>
#include <string>

#include <vips/vips8>

#include "adapters/generator/vips_runtime.hpp"

namespace quel::test {

/// `image` encoded by `suffix` (".png", ".jpg", ".webp").
inline std::string encoded_as(const vips::VImage& image, const char* suffix) {
  void* buf = nullptr;
  size_t size = 0;
  image.write_to_buffer(suffix, &buf, &size);
  std::string bytes(static_cast<const char*>(buf), size);
  g_free(buf);
  return bytes;
}

/// A valid 3-band image with detail (noise), so its encoded data is large
/// enough that half of it stops inside the pixel data, not the header.
inline std::string noisy_image(const char* suffix, int w = 200, int h = 150) {
  start_vips();
  auto img = vips::VImage::gaussnoise(w, h)
               .bandjoin({vips::VImage::gaussnoise(w, h), vips::VImage::gaussnoise(w, h)})
               .cast(VIPS_FORMAT_UCHAR)
               .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  return encoded_as(img, suffix);
}

/// The first half of `bytes`: a truncated transfer or a cut-off reply.
inline std::string first_half(const std::string& bytes) {
  return bytes.substr(0, bytes.size() / 2);
}

/// `bytes` with garbage over the part a decoder can check: the middle third
/// of a PNG (CRC per chunk) or JPEG (markers, Huffman codes), the chunk and
/// frame headers of a WebP (its VP8 data has no checksum: garbage there
/// decodes as other pixels, which no decoder can tell).
inline std::string corrupted(std::string bytes) {
  bool webp = bytes.compare(8, 4, "WEBP") == 0;
  size_t from = webp ? 12 : bytes.size() / 3;
  size_t to = webp ? 40 : bytes.size() * 2 / 3;
  for (size_t i = from; i < to; ++i)
    bytes[i] = static_cast<char>(i * 131 + 7);
  return bytes;
}

/// A PNG whose header says 16000x16000 (256 megapixels, 768 MB of RGB once
/// decoded) in about 250 KB of file: black compresses ~1000:1. Made once
/// per process by streaming, so making it costs no memory.
inline const std::string& png_bomb() {
  static const std::string bytes = [] {
    start_vips();
    return encoded_as(vips::VImage::black(16000, 16000,
                                          vips::VImage::option()->set("bands", 3)),
                      ".png[compression=9]");
  }();
  return bytes;
}

/// Peak resident set of this process so far, in MB.
inline int64_t peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

} // namespace quel::test
