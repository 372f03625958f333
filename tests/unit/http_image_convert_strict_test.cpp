// Model images are never stored unchecked: truncated, corrupt or oversized
// bytes are refused whatever the output format, including bytes that are
// already in it (they used to be passed through as they came).
#include <chrono>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "adapters/gemini/image_convert.hpp"
#include "adapters/generator/image_generator.hpp"
#include "tests/unit/hostile_images.hpp"

using namespace quel;

namespace {

struct format_case {
  const char* suffix;
  output_format format;
};

constexpr format_case formats[] = {{".png", output_format::png},
                                   {".jpg", output_format::jpeg},
                                   {".webp", output_format::webp}};

/// The generation_error convert_image throws for `bytes`, or FAILs.
generation_error refusal(std::string bytes, output_format target) {
  try {
    convert_image(blob(std::move(bytes)), target);
  } catch (const generation_error& e) {
    return e;
  }
  FAIL("the image was accepted");
  throw;  // unreachable: FAIL throws
}

void check_bad_reply(const generation_error& e, const std::string& problem) {
  CHECK(e.failure().kind == retry_class::retry_once);
  CHECK(std::string(e.what()).rfind("model image unusable: " + problem, 0) == 0);
}

} // namespace

TEST_CASE("a truncated model image in the output format is not passed through",
          "[http][convert][strict]") {
  for (auto [suffix, format] : formats) {
    INFO(suffix);
    check_bad_reply(refusal(test::first_half(test::noisy_image(suffix)), format),
                    "truncated or corrupt image data");
  }
}

TEST_CASE("a truncated model image is refused when converted", "[http][convert][strict]") {
  check_bad_reply(refusal(test::first_half(test::noisy_image(".png")), output_format::webp),
                  "truncated or corrupt image data");
  check_bad_reply(refusal(test::first_half(test::noisy_image(".jpg")), output_format::png),
                  "truncated or corrupt image data");
  check_bad_reply(refusal(test::first_half(test::noisy_image(".webp")), output_format::jpeg),
                  "truncated or corrupt image data");
}

TEST_CASE("a corrupt model image is refused", "[http][convert][strict]") {
  for (auto [suffix, format] : formats) {
    INFO(suffix);
    check_bad_reply(refusal(test::corrupted(test::noisy_image(suffix)), format),
                    "truncated or corrupt image data");
    check_bad_reply(refusal(test::corrupted(test::noisy_image(suffix)), output_format::webp),
                    "truncated or corrupt image data");
  }
}

TEST_CASE("a decompression bomb from the model is refused undecoded, whatever the format",
          "[http][convert][strict]") {
  const auto& bomb = test::png_bomb();
  auto rss_before = test::peak_rss_mb();
  auto started = std::chrono::steady_clock::now();
  for (auto target : {output_format::png, output_format::webp, output_format::jpeg})
    check_bad_reply(refusal(bomb, target),
                    "image is 16000x16000 pixels, more than limits.max_image_pixels");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  CHECK(test::peak_rss_mb() - rss_before < 64);
}

TEST_CASE("a valid model image in the output format still comes back unchanged",
          "[http][convert][strict]") {
  for (auto [suffix, format] : formats) {
    INFO(suffix);
    blob image(test::noisy_image(suffix));
    CHECK(&convert_image(image, format).bytes() == &image.bytes());
  }
}
