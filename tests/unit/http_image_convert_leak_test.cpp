// Inputs found by tests/fuzz/fuzz_image_convert.cpp: model images whose
// pixel data is corrupt (a PNG with one IDAT byte changed, two damaged
// JPEGs). They used to fail only inside libvips 8.14's WebP encoder, on a
// libvips worker thread, which then now and then (a race: about 1 in 500
// conversions) leaked its 8 KB output buffer. convert_image now decodes the
// whole image before any encoder runs.
//
// The leak itself shows only under LeakSanitizer: the ctest test `fuzz`
// runs these inputs (tests/fuzz/corpus/image_convert/webp_save_leak*). This
// test pins down what convert_image promises for them: a refusal named as
// an unusable model image, or a WebP image, never anything else. Which of
// the two is not fixed: libvips 8.14 (even the `vips copy` command) decodes
// such data or refuses it by thread timing, also with fail=true.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>

#include "adapters/gemini/image_convert.hpp"
#include "adapters/generator/image_generator.hpp"
#include "domain/image_format.hpp"

using namespace quel;

namespace {

blob corpus_file(const std::string& name) {
  std::ifstream in(std::string(QUEL_SOURCE_DIR) + "/tests/fuzz/corpus/image_convert/" + name,
                   std::ios::binary);
  REQUIRE(in);
  return blob(std::string(std::istreambuf_iterator<char>(in), {}));
}

} // namespace

TEST_CASE("corrupt images the fuzzer found are refused or converted to WebP",
          "[http][convert][vips]") {
  for (auto name : {"webp_save_leak.png", "webp_save_leak_exif.jpg", "webp_save_leak_2.jpg"}) {
    INFO(name);
    auto image = corpus_file(name);
    for (int i = 0; i < 20; ++i) {
      try {
        auto webp = convert_image(image, output_format::webp);
        REQUIRE(sniff_image_mime(webp.bytes()) == std::optional<std::string>("image/webp"));
      } catch (const generation_error& e) {
        CHECK(std::string(e.what()).rfind("model image unusable: ", 0) == 0);
      }
    }
  }
}
