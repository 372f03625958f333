// Regression test for a finding of tests/fuzz/fuzz_image_convert.cpp: a PNG
// whose pixel data is corrupt failed only inside libvips' WebP encoder,
// which (libvips 8.14) then leaked its 8 KB output buffer, once per bad
// model image. convert_image now decodes the whole image before encoding.
#include <catch2/catch.hpp>

#include <malloc.h>

#include <string>

#include "adapters/gemini/image_convert.hpp"
#include "adapters/generator/image_generator.hpp"
#include "adapters/http/base64.hpp"

using namespace quel;

namespace {

// The fuzzer's input (tests/fuzz/corpus/image_convert/webp_save_leak.png):
// a 3x2 RGBA PNG with one byte of its IDAT stream changed.
const char* corrupt_png_base64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAYAAACddGYaAAAACXBIWXMAAAPoAAAD6AG1e1Jr"
  "AAAAC0lEQVQImWNgwAUAABoAAaQzefYAAAAASUVORK5CYII=";

size_t heap_in_use() { return mallinfo2().uordblks; }

void convert_quietly(const blob& image) {
  try {
    (void)convert_image(image, output_format::webp);
  } catch (const generation_error&) {
  }
}

} // namespace

TEST_CASE("a corrupt PNG converted to WebP leaks nothing", "[http][convert][vips]") {
  auto bytes = base64_decode(corrupt_png_base64);
  REQUIRE(bytes);
  blob image(std::move(*bytes));
  convert_quietly(image);  // libvips' one-time set-up is not a leak
  auto before = heap_in_use();
  for (int i = 0; i < 400; ++i)
    convert_quietly(image);
  auto grown = heap_in_use() > before ? heap_in_use() - before : 0;
  // 400 x 8 KB = 3.2 MB when the encoder's buffer leaks.
  CHECK(grown < 1024 * 1024);
}
