// Object keys (rule 13 and section 4) and image formats (rules 15 and 16).
#include <catch2/catch.hpp>

#include <string>

#include "domain/image_format.hpp"
#include "domain/object_key.hpp"

using namespace quel;

TEST_CASE("acceptable object keys pass as stored", "[keys]") {
  for (auto key : {"uploads/2024/a.png", "a", "org-1/in put/фото.jpg", "a.b/.c",
                   "a..b/c..png", "dir/..hidden", "100%.png", "%41.png", "...",
                   "x/.../y"}) {
    INFO(key);
    CHECK_FALSE(object_key_problem(key).has_value());
  }
}

TEST_CASE("keys that could escape the bucket are refused with the reason", "[keys]") {
  struct row { std::string key; std::string problem; };
  auto r = GENERATE(values<row>({
    {"", "object key is empty"},
    {"/etc/passwd", "object key \"/etc/passwd\" starts with '/'"},
    {"..", "object key \"..\" contains a '..' segment"},
    {"../x.png", "object key \"../x.png\" contains a '..' segment"},
    {"a/../../x.png", "object key \"a/../../x.png\" contains a '..' segment"},
    {"a/..", "object key \"a/..\" contains a '..' segment"},
    {"a\\b.png", "object key \"a\\b.png\" contains a backslash"},
    {"a/%2e%2e/b", "object key \"a/%2e%2e/b\" contains a percent-encoded dot, slash or backslash"},
    {"a/%2E./b", "object key \"a/%2E./b\" contains a percent-encoded dot, slash or backslash"},
    {"a%2fb", "object key \"a%2fb\" contains a percent-encoded dot, slash or backslash"},
    {"a%2Fb", "object key \"a%2Fb\" contains a percent-encoded dot, slash or backslash"},
    {"a%5cb", "object key \"a%5cb\" contains a percent-encoded dot, slash or backslash"},
    {"https://evil.example/x.png", "object key \"https://evil.example/x.png\" contains a scheme ('://')"},
    {"s3://bucket/x", "object key \"s3://bucket/x\" contains a scheme ('://')"},
    {std::string("a\nb"), "object key contains a control character"},
    {std::string("a\0b", 3), "object key contains a control character"},
    {std::string("a\x1b[31mb"), "object key contains a control character"},
    {std::string("a\x7f"), "object key contains a control character"},
    // One validator for both backends (docs/SECURITY.md, "Paths"): a '.' or
    // empty segment names no object and could be squashed by a client.
    {".", "object key \".\" contains a '.' segment"},
    {"a/./b.png", "object key \"a/./b.png\" contains a '.' segment"},
    {"a/.", "object key \"a/.\" contains a '.' segment"},
    {"a//b", "object key \"a//b\" contains an empty segment"},
    {"dir/", "object key \"dir/\" contains an empty segment"},
    {std::string(1025, 'k'), "object key of 1025 bytes is longer than 1024 bytes"},
    {"a/" + std::string(256, 's'), "object key \"a/" + std::string(256, 's')
                                     + "\" has a segment longer than 255 bytes"},
  }));
  INFO(r.key);
  CHECK(object_key_problem(r.key) == std::optional<std::string>(r.problem));
}

TEST_CASE("keys at the length limits pass", "[keys]") {
  CHECK_FALSE(object_key_problem(std::string(255, 'a') + "/" + std::string(255, 'b')).has_value());
  std::string longest;
  while (longest.size() + 101 <= 1024)
    longest += std::string(100, 'x') + "/";
  longest += std::string(1024 - longest.size(), 'y');
  REQUIRE(longest.size() == 1024);
  CHECK_FALSE(object_key_problem(longest).has_value());
}

TEST_CASE("input key: attach_file_path wins, attach_directory for legacy rows", "[keys]") {
  using opt = std::optional<std::string>;
  CHECK(input_key_of(opt("new/key.png"), opt("old/key.png")) == opt("new/key.png"));
  CHECK(input_key_of(opt(""), opt("old/key.png")) == opt("old/key.png"));
  CHECK(input_key_of(std::nullopt, opt("old/key.png")) == opt("old/key.png"));
  CHECK(input_key_of(opt(""), opt("")) == std::nullopt);
  CHECK(input_key_of(std::nullopt, std::nullopt) == std::nullopt);
}

TEST_CASE("output keys are deterministic and hold the job id as a segment", "[keys]") {
  const std::string job = "6f1c2a1e-0b1d-4c8e-9f00-1234567890ab";
  CHECK(output_key(job, 0, 1, "webp") == "generated/" + job + "/s0-i1.webp");
  CHECK(output_key(job, 12, 15, "jpg") == "generated/" + job + "/s12-i15.jpg");
  CHECK(output_key(job, 3, 0, "png") == output_key(job, 3, 0, "png"));
  CHECK(output_key(job, 1, 0, "png") != output_key(job, 0, 1, "png"));
  CHECK_FALSE(object_key_problem(output_key(job, 0, 0, "webp")).has_value());
}

TEST_CASE("output formats map to MIME types and extensions", "[format]") {
  CHECK(parse_output_format("webp") == output_format::webp);
  CHECK(parse_output_format("PNG") == output_format::png);
  CHECK(parse_output_format("jpeg") == output_format::jpeg);
  CHECK(parse_output_format("jpg") == output_format::jpeg);
  CHECK(parse_output_format("image/webp") == output_format::webp);
  CHECK_FALSE(parse_output_format("gif").has_value());
  CHECK_FALSE(parse_output_format("").has_value());
  CHECK(std::string(mime_type_of(output_format::webp)) == "image/webp");
  CHECK(std::string(mime_type_of(output_format::png)) == "image/png");
  CHECK(std::string(mime_type_of(output_format::jpeg)) == "image/jpeg");
  CHECK(std::string(extension_of(output_format::webp)) == "webp");
  CHECK(std::string(extension_of(output_format::png)) == "png");
  CHECK(std::string(extension_of(output_format::jpeg)) == "jpg");
}

namespace {

/// An ISO BMFF `ftyp` box with the given brands, then some payload.
std::string ftyp(const std::string& major, std::vector<std::string> compatible) {
  std::string box(4, '\0');
  box += "ftyp" + major + std::string("\0\0\0\0", 4);
  for (auto& b : compatible)
    box += b;
  box[3] = static_cast<char>(box.size());
  return box + std::string("\0\0\0\x08meta", 8);
}

} // namespace

TEST_CASE("image MIME types are sniffed from magic bytes", "[format]") {
  using opt = std::optional<std::string>;
  CHECK(sniff_image_mime(std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16)) == opt("image/png"));
  CHECK(sniff_image_mime("\xFF\xD8\xFF\xE0\0\x10JFIF") == opt("image/jpeg"));
  CHECK(sniff_image_mime(std::string("RIFF\x24\0\0\0WEBPVP8 ", 16)) == opt("image/webp"));
  CHECK(sniff_image_mime(ftyp("heic", {"mif1", "heic"})) == opt("image/heic"));
  CHECK(sniff_image_mime(ftyp("heix", {})) == opt("image/heic"));
  CHECK(sniff_image_mime(ftyp("mif1", {"mif1", "heic"})) == opt("image/heic"));
  CHECK(sniff_image_mime(ftyp("mif1", {"mif1", "miaf"})) == opt("image/heif"));
  CHECK(sniff_image_mime(ftyp("msf1", {"msf1"})) == opt("image/heif"));
  CHECK(sniff_image_mime(ftyp("mp42", {"isom", "mif1"})) == opt("image/heif"));
  // AVIF lists mif1 too, but is neither HEIC nor HEIF for the model.
  CHECK(sniff_image_mime(ftyp("avif", {"avif", "mif1", "miaf"})) == std::nullopt);
  CHECK(sniff_image_mime(ftyp("isom", {"mp41"})) == std::nullopt);

  CHECK(sniff_image_mime("") == std::nullopt);
  CHECK(sniff_image_mime("\x89PN") == std::nullopt);
  CHECK(sniff_image_mime("\xFF\xD8") == std::nullopt);
  CHECK(sniff_image_mime("GIF89a....") == std::nullopt);
  CHECK(sniff_image_mime(std::string("RIFF\x24\0\0\0WAVEfmt ", 16)) == std::nullopt);
  CHECK(sniff_image_mime("RIFF") == std::nullopt);
  CHECK(sniff_image_mime("<html>not an image</html>") == std::nullopt);
  CHECK(sniff_image_mime(std::string("\0\0\0\x18" "ftyp", 8)) == std::nullopt);
}
