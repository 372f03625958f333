#include "domain/image_format.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace quel {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// What an output format is called: its MIME type and its key's extension.
struct format_names {
  const char* mime;
  const char* extension;
};

format_names names_of(output_format f) {
  switch (f) {
    case output_format::png: return {"image/png", "png"};
    case output_format::jpeg: return {"image/jpeg", "jpg"};
    case output_format::webp: break;
  }
  return {"image/webp", "webp"};
}

bool starts_with(std::string_view bytes, std::string_view prefix) {
  return bytes.substr(0, prefix.size()) == prefix;
}

uint32_t read_be32(std::string_view b, size_t at) {
  auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(b[at + i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

bool is_heic_brand(std::string_view brand) {
  return brand == "heic" || brand == "heix" || brand == "hevc" || brand == "hevx"
         || brand == "heim" || brand == "heis";
}

bool is_heif_brand(std::string_view brand) {
  return brand == "mif1" || brand == "msf1";
}

/// HEIC/HEIF are ISO BMFF files whose first box is `ftyp`, listing a major
/// brand and compatible brands.
std::optional<std::string> sniff_bmff(std::string_view bytes) {
  if (bytes.size() < 12 || bytes.substr(4, 4) != "ftyp")
    return std::nullopt;
  auto major = bytes.substr(8, 4);
  if (is_heic_brand(major))
    return std::string("image/heic");
  // The box size bounds the compatible brands (size 0 or 1: to the end of
  // the data or a 64-bit size, both rare; scan what we have).
  size_t box_end = read_be32(bytes, 0);
  if (box_end < 16 || box_end > bytes.size())
    box_end = bytes.size();
  bool heif = false;
  for (size_t at = 16; at + 4 <= box_end; at += 4) {
    auto brand = bytes.substr(at, 4);
    if (is_heic_brand(brand))
      return std::string("image/heic");
    heif = heif || is_heif_brand(brand);
  }
  // AVIF also lists mif1 as compatible, but its major brand says what it is.
  if (is_heif_brand(major) || (heif && major.substr(0, 3) != "avi"))
    return std::string("image/heif");
  return std::nullopt;
}

} // namespace

std::optional<output_format> parse_output_format(std::string_view name) {
  auto n = lower(name);
  if (n == "webp" || n == "image/webp")
    return output_format::webp;
  if (n == "png" || n == "image/png")
    return output_format::png;
  if (n == "jpeg" || n == "jpg" || n == "image/jpeg")
    return output_format::jpeg;
  return std::nullopt;
}

const char* mime_type_of(output_format f) { return names_of(f).mime; }

const char* extension_of(output_format f) { return names_of(f).extension; }

std::optional<std::string> sniff_image_mime(std::string_view bytes) {
  if (starts_with(bytes, std::string_view("\x89PNG\r\n\x1a\n", 8)))
    return std::string("image/png");
  if (starts_with(bytes, "\xFF\xD8\xFF"))
    return std::string("image/jpeg");
  if (bytes.size() >= 12 && starts_with(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP")
    return std::string("image/webp");
  return sniff_bmff(bytes);
}

} // namespace quel
