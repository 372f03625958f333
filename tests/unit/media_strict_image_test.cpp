// Strict decoding of untrusted images: the header's size is capped before
// any pixel is decoded, and a truncated or corrupt image fails its decode
// instead of turning into grey rows.
#include <chrono>
#include <string>

#include <catch2/catch.hpp>
#include <vips/vips8>

#include "adapters/generator/strict_image.hpp"
#include "tests/unit/hostile_images.hpp"

using namespace quel;

namespace {

constexpr int64_t cap = 50'000'000;

/// The refusal text of opening and fully decoding `bytes`, or "" if none.
std::string refusal_of(const std::string& bytes) {
  try {
    decode_fully(open_image_strictly(bytes, cap));
    return "";
  } catch (const image_refused& e) {
    return e.what();
  }
}

} // namespace

TEST_CASE("valid PNG, JPEG and WebP images decode strictly", "[media][strict]") {
  for (const char* suffix : {".png", ".jpg", ".webp"}) {
    INFO(suffix);
    auto bytes = test::noisy_image(suffix);
    auto image = open_image_strictly(bytes, cap);
    CHECK(image.width() == 200);
    CHECK(image.height() == 150);
    CHECK_NOTHROW(decode_fully(image));
  }
}

TEST_CASE("a truncated PNG, JPEG or WebP image is refused", "[media][strict]") {
  for (const char* suffix : {".png", ".jpg", ".webp"}) {
    INFO(suffix);
    auto why = refusal_of(test::first_half(test::noisy_image(suffix)));
    CHECK(why.rfind("truncated or corrupt image data: ", 0) == 0);
  }
  CHECK(std::string(vips_error_buffer()).empty());
}

TEST_CASE("a corrupt image is refused", "[media][strict]") {
  for (const char* suffix : {".png", ".jpg", ".webp"}) {
    INFO(suffix);
    CHECK(refusal_of(test::corrupted(test::noisy_image(suffix)))
            .rfind("truncated or corrupt image data: ", 0) == 0);
  }
  CHECK(refusal_of("not an image at all").rfind("truncated or corrupt", 0) == 0);
}

TEST_CASE("a decompression bomb is refused from its header, undecoded", "[media][strict]") {
  const auto& bomb = test::png_bomb();
  REQUIRE(bomb.size() < 1'000'000);
  auto rss_before = test::peak_rss_mb();
  auto started = std::chrono::steady_clock::now();
  try {
    (void)open_image_strictly(bomb, cap);
    FAIL("a 16000x16000 image was opened");
  } catch (const image_too_large& e) {
    CHECK(std::string(e.what())
          == "image is 16000x16000 pixels, more than limits.max_image_pixels (50000000)");
  }
  // Decoded, it would take 768 MB and seconds.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
  CHECK(test::peak_rss_mb() - rss_before < 64);
  // The cap is the configured one: the same image within a larger cap opens.
  CHECK(open_image_strictly(bomb, 16000LL * 16000).width() == 16000);
}

TEST_CASE("loaders unfit for untrusted input (SVG) are refused", "[media][strict]") {
  // libvips would render this through librsvg (external entities, fonts,
  // unbounded work); model replies and inputs only need PNG, JPEG and WebP.
  const std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" "
                          "height=\"10\"><rect width=\"10\" height=\"10\"/></svg>";
  CHECK_FALSE(refusal_of(svg).empty());
}
