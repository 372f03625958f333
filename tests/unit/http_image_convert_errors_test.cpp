// A failed conversion leaves no libvips error behind: the next job's
// failure must not carry this one's text.
#include <catch2/catch.hpp>

#include <vips/vips8>

#include "adapters/gemini/image_convert.hpp"
#include "adapters/generator/image_generator.hpp"

using namespace quel;

TEST_CASE("a failed conversion clears libvips' error state", "[http][convert][vips]") {
  // PNG magic followed by garbage: sniffed as PNG, fails to decode.
  std::string bad = "\x89PNG\r\n\x1a\n";
  bad += "first job's corrupt bytes";
  std::string first;
  try {
    convert_image(blob(std::string(bad)), output_format::webp);
    FAIL("corrupt PNG converted");
  } catch (const generation_error& e) {
    first = e.what();
  }
  CHECK(first.find("model image unusable") != std::string::npos);
  CHECK(std::string(vips_error_buffer()).empty());

  // A second failure reports only itself.
  std::string gif = "GIF89a";
  gif += std::string(20, '\0');
  try {
    convert_image(blob(std::move(gif)), output_format::webp);
    FAIL("corrupt GIF converted");
  } catch (const generation_error& e) {
    std::string second = e.what();
    CHECK(second.find("png") == std::string::npos);
    CHECK(second.find("PNG") == std::string::npos);
  }
  CHECK(std::string(vips_error_buffer()).empty());
}
