#include "adapters/generator/local_image_generator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include <vips/vips8>

#include "adapters/generator/strict_image.hpp"
#include "adapters/generator/vips_runtime.hpp"
#include "common/log.hpp"
#include "domain/image_format.hpp"

namespace quel {

namespace {

using vips::VError;
using vips::VImage;

constexpr size_t caption_code_points = 120;

struct rgb {
  double r, g, b;
};

// Distinct, mid-bright hues so both dark captions and light tiles read well.
constexpr std::array<rgb, 8> palette{{
  {231, 111, 81},  {42, 157, 143},  {233, 196, 106}, {69, 123, 157},
  {188, 108, 37},  {131, 56, 236},  {58, 134, 255},  {255, 0, 110},
}};

// The encoder libvips picks by the suffix, with the worker's settings.
const char* save_suffix_of(output_format f) {
  switch (f) {
    case output_format::png:
      return ".png[compression=3,strip]";
    case output_format::jpeg:
      return ".jpg[Q=85,strip]";
    case output_format::webp:
    default:
      return ".webp[Q=80,effort=2,strip]";
  }
}

// libvips must be started once per process before any thread uses it.
void ensure_vips() { start_vips(); }

struct canvas_size {
  int width;
  int height;
};

canvas_size canvas_for(const std::optional<std::string>& ratio, int long_side) {
  int w = 1;
  int h = 1;
  if (ratio) {
    int a = 0;
    int b = 0;
    char tail = 0;
    if (std::sscanf(ratio->c_str(), "%d:%d%c", &a, &b, &tail) == 2 && a > 0 && b > 0) {
      w = a;
      h = b;
    }
  }
  if (w >= h)
    return {long_side, std::max(1, static_cast<int>(std::lround(double(long_side) * h / w)))};
  return {std::max(1, static_cast<int>(std::lround(double(long_side) * w / h))), long_side};
}

bool looks_like_heif(const generation_input& in) {
  if (in.mime_type == "image/heic" || in.mime_type == "image/heif")
    return true;
  const auto& b = in.bytes.bytes();
  if (b.size() < 12 || b.compare(4, 4, "ftyp") != 0)
    return false;
  static constexpr std::array<std::string_view, 10> brands{
    "heic", "heix", "hevc", "hevx", "heim", "heis", "hevm", "hevs", "mif1", "msf1"};
  auto brand = std::string_view(b).substr(8, 4);
  return std::find(brands.begin(), brands.end(), brand) != brands.end();
}

// First `n` code points of UTF-8 text, never splitting a sequence.
std::string first_code_points(const std::string& text, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (count == n)
        return text.substr(0, i) + "…";
      ++count;
    }
  }
  return text;
}

// vips_text takes Pango markup; prompt text must not be parsed as markup.
std::string markup_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\n':
      case '\r':
      case '\t': out += ' '; break;
      default: out += c;
    }
  }
  return out;
}

// Any decoded input as 8-bit sRGB without alpha, so tiles can be inserted.
VImage to_srgb8(VImage img, const rgb& backdrop) {
  if (img.interpretation() != VIPS_INTERPRETATION_sRGB)
    img = img.colourspace(VIPS_INTERPRETATION_sRGB);
  if (img.has_alpha())
    img = img.flatten(VImage::option()->set(
      "background", std::vector<double>{backdrop.r, backdrop.g, backdrop.b}));
  if (img.bands() > 3)
    img = img.extract_band(0, VImage::option()->set("n", 3));
  else if (img.bands() == 2)
    img = img.extract_band(0);
  if (img.bands() == 1)
    img = img.bandjoin(std::vector<VImage>{img, img});
  return img.cast(VIPS_FORMAT_UCHAR);
}

// "input 2 (style)": how errors name an input.
std::string input_name(const generation_input& in, size_t position) {
  std::string name = "input " + std::to_string(position + 1);
  if (!in.category.empty())
    name += " (" + in.category + ")";
  return name;
}

// Decodes one input scaled to fit box_w x box_h, fully evaluated so that
// nothing refers to the borrowed input bytes after this returns. The header
// is checked against the pixel cap first, so a decompression bomb is refused
// before any pixel is decoded.
VImage decode_tile(const generation_input& in, size_t position, int box_w, int box_h,
                   const rgb& backdrop, int64_t max_pixels) {
  const auto& bytes = in.bytes.bytes();
  try {
    (void)open_image_strictly(bytes, max_pixels);  // the header only
    VipsBlob* borrowed = vips_blob_new(nullptr, bytes.data(), bytes.size());
    try {
      // Lenient on purpose (a phone's slightly truncated JPEG is drawn as
      // far as it decodes): this is a local stand-in, and its output is a
      // fresh encode, never the input's bytes.
      auto tile = VImage::thumbnail_buffer(borrowed, box_w,
                                           VImage::option()->set("height", box_h));
      tile = to_srgb8(tile, backdrop).copy_memory();
      vips_area_unref(VIPS_AREA(borrowed));
      return tile;
    } catch (const VError&) {
      vips_area_unref(VIPS_AREA(borrowed));
      vips_error_clear();
    }
  } catch (const image_too_large& e) {
    throw generation_error(input_name(in, position) + ": " + e.what(), false);
  } catch (const image_refused&) {
    // An unreadable header: judged below like a failed decode.
  }
  if (looks_like_heif(in)) {
    // libheif here may lack an HEVC decoder: the image stays usable for the
    // real model, so the local stand-in shows a neutral tile instead.
    int side = std::min(box_w, box_h);
    return VImage::black(side, side).new_from_image(std::vector<double>{128, 128, 128});
  }
  throw generation_error(input_name(in, position) + " is not a decodable image", false);
}

// Backgrounds are smooth, so they are computed at a fraction of the size
// and scaled up: per-pixel float maths at full size costs more than the
// whole WebP encode.
constexpr int background_shrink = 8;

// A diagonal gradient between two palette colours, with concentric rings
// when `rings` (so a prompt-only image still has visible structure).
VImage background(int w, int h, const rgb& from, const rgb& to, bool rings,
                  int image_index) {
  const int sw = std::max(2, (w + background_shrink - 1) / background_shrink);
  const int sh = std::max(2, (h + background_shrink - 1) / background_shrink);
  auto xy = VImage::xyz(sw, sh);
  auto t = (xy[0] + xy[1]) / double(sw + sh - 2);
  auto bg = t.linear(std::vector<double>{to.r - from.r, to.g - from.g, to.b - from.b},
                     std::vector<double>{from.r, from.g, from.b});
  if (rings) {
    double cx = sw * (0.25 + 0.5 * ((image_index * 37) % 100) / 100.0);
    double cy = sh * (0.25 + 0.5 * ((image_index * 61 + 17) % 100) / 100.0);
    double period = std::max(2.0, std::min(sw, sh) / (4.0 + image_index % 5));
    auto dx = xy[0] - cx;
    auto dy = xy[1] - cy;
    auto dist = (dx * dx + dy * dy).pow(0.5);
    // Smooth (sine) rings rather than hard-edged ones: they survive the
    // scale-up without blocky edges.
    auto wave = (dist * (360.0 / period)).sin().linear(0.5, 0.5);
    bg = bg + bg.linear(-0.35, 90) * wave;
  }
  bg = bg.cast(VIPS_FORMAT_UCHAR).copy_memory();
  auto big = bg.resize(double(w) / sw, VImage::option()
                                         ->set("vscale", double(h) / sh)
                                         ->set("kernel", VIPS_KERNEL_LINEAR));
  // resize rounds its output size; pin it to exactly w x h.
  return big.embed(0, 0, w, h, VImage::option()->set("extend", VIPS_EXTEND_COPY));
}

// The collage of inputs in a grid; the order rotates with the image index.
VImage collage(const generation_request& request, int w, int h, const rgb& tint,
              int64_t max_input_pixels) {
  const auto& inputs = request.inputs;
  const int variant = std::max(0, request.image.image_index);
  const rgb& from = palette[static_cast<size_t>(variant) % palette.size()];
  const rgb& to = palette[static_cast<size_t>(variant + 3) % palette.size()];
  auto canvas = background(w, h, from, to, inputs.empty(), variant);
  if (inputs.empty())
    return canvas;
  const int n = static_cast<int>(inputs.size());
  const int cols = static_cast<int>(std::ceil(std::sqrt(double(n))));
  const int rows = (n + cols - 1) / cols;
  const int cell_w = w / cols;
  const int cell_h = h / rows;
  const int gap = std::max(2, std::min(cell_w, cell_h) / 24);
  const int box_w = std::max(8, cell_w - 2 * gap);
  const int box_h = std::max(8, cell_h - 2 * gap);
  const std::vector<double> keep{0.82, 0.82, 0.82};
  const std::vector<double> add{0.18 * tint.r, 0.18 * tint.g, 0.18 * tint.b};
  for (int k = 0; k < n; ++k) {
    // Decode in input order so the first bad input is the one reported.
    auto tile = decode_tile(inputs[static_cast<size_t>(k)], static_cast<size_t>(k),
                            box_w, box_h, tint, max_input_pixels);
    tile = tile.linear(keep, add).cast(VIPS_FORMAT_UCHAR);
    int slot = (k + variant) % n;
    int x = (slot % cols) * cell_w + (cell_w - tile.width()) / 2;
    int y = (slot / cols) * cell_h + (cell_h - tile.height()) / 2;
    canvas = canvas.insert(tile, x, y);
  }
  return canvas;
}

// The caption band; without usable fonts it stays a plain band.
VImage caption_band(const generation_request& request, int w, int band_h) {
  auto band = VImage::black(w, band_h).new_from_image(std::vector<double>{24, 24, 30});
  const int pad = std::max(2, band_h / 10);
  const int font_px = std::clamp(std::min(band_h / 3, w / 48), 9, 24);
  std::string text = "stage " + std::to_string(request.image.stage_index) + " · image "
                     + std::to_string(request.image.image_index) + " — "
                     + first_code_points(request.prompt, caption_code_points);
  try {
    auto mask = VImage::text(markup_escape(text).c_str(),
                             VImage::option()
                               ->set("font", ("DejaVu Sans " + std::to_string(font_px)).c_str())
                               ->set("width", std::max(1, w - 2 * pad))
                               ->set("dpi", 72));
    int mw = std::min(mask.width(), w - 2 * pad);
    int mh = std::min(mask.height(), band_h - 2 * pad);
    if (mw <= 0 || mh <= 0)
      return band;
    mask = mask.crop(0, 0, mw, mh).embed(pad, pad, w, band_h);
    return mask.ifthenelse(std::vector<double>{236, 236, 236}, band,
                           VImage::option()->set("blend", true));
  } catch (const VError&) {
    vips_error_clear();
    return band;
  }
}

std::string encode(const VImage& image, output_format format) {
  void* buf = nullptr;
  size_t len = 0;
  image.write_to_buffer(save_suffix_of(format), &buf, &len);
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

} // namespace

local_image_generator::local_image_generator(std::chrono::milliseconds latency,
                                             int long_side, int64_t max_input_pixels)
  : latency_(latency), long_side_(std::max(64, long_side)),
    max_input_pixels_(max_input_pixels) {
  ensure_vips();
}

generated_image local_image_generator::generate(const generation_request& request) {
  ensure_vips();
  const auto size = canvas_for(request.aspect_ratio, long_side_);
  const int band_h = std::max(16, size.height / 8);
  const int content_h = std::max(1, size.height - band_h);
  const rgb& tint = palette[static_cast<size_t>(std::max(0, request.image.stage_index * 3
                                                            + request.image.image_index))
                            % palette.size()];
  generated_image result;
  try {
    auto content = collage(request, size.width, content_h, tint, max_input_pixels_);
    auto image = content.join(caption_band(request, size.width, size.height - content_h),
                              VIPS_DIRECTION_VERTICAL)
                   .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    result.bytes = blob(encode(image, request.format));
  } catch (const VError& e) {
    throw generation_error("local generator failed: " + take_vips_error(e), true);
  }
  result.mime_type = mime_type_of(request.format);
  result.model_version = std::string("local-vips-") + vips_version_string();
  if (latency_.count() > 0)
    std::this_thread::sleep_for(latency_);
  return result;
}

} // namespace quel
