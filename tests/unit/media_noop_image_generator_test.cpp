#include <catch2/catch.hpp>

#include <vips/vips8>

#include "adapters/generator/noop_image_generator.hpp"
#include "domain/image_format.hpp"

using quel::generation_request;
using quel::noop_image_generator;
using quel::output_format;

namespace {

generation_request request_for(output_format f) {
  generation_request r;
  r.prompt = "bench";
  r.format = f;
  return r;
}

} // namespace

TEST_CASE("noop generator answers with a valid image in each output format") {
  noop_image_generator g;
  for (auto f : {output_format::webp, output_format::png, output_format::jpeg}) {
    auto out = g.generate(request_for(f));
    CAPTURE(quel::mime_type_of(f));
    CHECK(out.mime_type == quel::mime_type_of(f));
    // The bytes are what they claim (rule 15) and decode to the 8x8 picture.
    CHECK(quel::sniff_image_mime(out.bytes.bytes()) == std::string(quel::mime_type_of(f)));
    auto image = vips::VImage::new_from_buffer(out.bytes.bytes().data(), out.bytes.size(), "",
                                               vips::VImage::option()->set("fail", true));
    CHECK(image.width() == 8);
    CHECK(image.height() == 8);
    CHECK(image.avg() > 100);  // mid-grey, not an all-black placeholder
    CHECK(out.bytes.size() < 1024);
  }
}

TEST_CASE("noop generator hands out one shared image, never a copy") {
  noop_image_generator g;
  auto a = g.generate(request_for(output_format::webp));
  auto b = g.generate(request_for(output_format::webp));
  // The same buffer: a call does no encoding and no allocation of image bytes.
  CHECK(a.bytes.bytes().data() == b.bytes.bytes().data());
  CHECK(a.model_version == "noop");
}
