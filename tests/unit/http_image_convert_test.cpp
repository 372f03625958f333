#include <catch2/catch.hpp>

#include <vips/vips8>

#include <string>

#include "adapters/gemini/image_convert.hpp"
#include "adapters/generator/image_generator.hpp"
#include "tests/unit/hostile_images.hpp"

using namespace quel;

namespace {

/// A real encoded test image: 24x16, 3 bands (4 with alpha).
blob encoded(const char* suffix, bool alpha = false) {
  static const bool vips_ready = VIPS_INIT("http_tests") == 0;  // harmless if done twice
  REQUIRE(vips_ready);
  auto img = vips::VImage::black(24, 16, vips::VImage::option()->set("bands", alpha ? 4 : 3))
               .linear(std::vector<double>{1.0}, std::vector<double>{120.0})
               .cast(VIPS_FORMAT_UCHAR);
  return blob(test::encoded_as(img, suffix));
}

vips::VImage decode(const blob& b) {
  return vips::VImage::new_from_buffer(b.bytes().data(), b.size(), "");
}

} // namespace

TEST_CASE("a PNG from the model becomes a real WebP", "[http][convert]") {
  auto png = encoded(".png");
  auto webp = convert_image(png, output_format::webp);
  CHECK(sniff_image_mime(webp.bytes()) == std::string("image/webp"));
  auto img = decode(webp);
  CHECK(img.width() == 24);
  CHECK(img.height() == 16);
}

TEST_CASE("bytes already in the output format are returned unchanged", "[http][convert]") {
  auto png = encoded(".png");
  auto same = convert_image(png, output_format::png);
  CHECK(&same.bytes() == &png.bytes());
  auto jpeg = encoded(".jpg");
  CHECK(&convert_image(jpeg, output_format::jpeg).bytes() == &jpeg.bytes());
}

TEST_CASE("JPEG and WebP convert to PNG, and alpha is flattened for JPEG", "[http][convert]") {
  auto from_jpeg = convert_image(encoded(".jpg"), output_format::png);
  CHECK(sniff_image_mime(from_jpeg.bytes()) == std::string("image/png"));
  auto from_webp = convert_image(encoded(".webp"), output_format::png);
  CHECK(sniff_image_mime(from_webp.bytes()) == std::string("image/png"));
  auto with_alpha = encoded(".png", true);
  auto jpeg = convert_image(with_alpha, output_format::jpeg);
  CHECK(sniff_image_mime(jpeg.bytes()) == std::string("image/jpeg"));
  CHECK(decode(jpeg).bands() == 3);
}

TEST_CASE("undecodable model bytes are a reply without a usable image", "[http][convert]") {
  try {
    convert_image(blob(std::string("definitely not an image")), output_format::webp);
    FAIL("expected generation_error");
  } catch (const generation_error& e) {
    // Retried once, as a reply without an image (CONTRACT.md rule 18).
    CHECK(e.failure().kind == retry_class::retry_once);
    CHECK(std::string(e.what()).rfind("model image unusable: ", 0) == 0);
  }
}
