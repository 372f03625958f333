#include "domain/model_request.hpp"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

namespace quel {

namespace {

constexpr char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The four base64 characters of the group of (up to) three bytes at `p`.
void encode_group(const unsigned char* p, size_t n, char out[4]) {
  uint32_t v = uint32_t{p[0]} << 16;
  if (n > 1)
    v |= uint32_t{p[1]} << 8;
  if (n > 2)
    v |= p[2];
  out[0] = alphabet[(v >> 18) & 63];
  out[1] = alphabet[(v >> 12) & 63];
  out[2] = n > 1 ? alphabet[(v >> 6) & 63] : '=';
  out[3] = n > 2 ? alphabet[v & 63] : '=';
}

// Base64 characters [pos, pos + max) of `raw`'s encoding into `out`.
size_t read_base64(const std::string& raw, int64_t pos, char* out, size_t max) {
  auto total = base64_size(static_cast<int64_t>(raw.size()));
  auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  size_t written = 0;
  while (written < max && pos < total) {
    auto group = static_cast<size_t>(pos / 4);
    auto within = static_cast<size_t>(pos % 4);
    size_t n = std::min<size_t>(3, raw.size() - group * 3);
    char chars[4];
    encode_group(bytes + group * 3, n, chars);
    size_t take = std::min(max - written, 4 - within);
    std::memcpy(out + written, chars + within, take);
    written += take;
    pos += static_cast<int64_t>(take);
  }
  return written;
}

std::string json_string(const std::string& s) {
  // Replacement instead of an exception: a stray invalid byte in a prompt
  // must not take the worker down.
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The body with `mimes[i]` and the base64 of `data[i]` for input i; `data`
// may be empty blobs when only the text is wanted.
json_image_body build(const std::string& prompt, const std::optional<std::string>& aspect,
                      const std::vector<std::string>& mimes, const std::vector<blob>& data) {
  json_image_body body;
  body.text(R"({"contents":[{"role":"user","parts":[{"text":)" + json_string(prompt) + "}");
  for (size_t i = 0; i < mimes.size(); ++i) {
    body.text(R"(,{"inlineData":{"mimeType":)" + json_string(mimes[i]) + R"(,"data":")");
    body.base64_of(data[i]);
    body.text("\"}}");
  }
  std::string tail = R"(]}],"generationConfig":{"responseModalities":["TEXT","IMAGE"])";
  if (aspect)
    tail += R"(,"imageConfig":{"aspectRatio":)" + json_string(*aspect) + "}";
  tail += "}}";
  body.text(tail);
  return body;
}

} // namespace

void json_image_body::text(std::string_view s) {
  if (s.empty())
    return;
  // Adjacent literals are merged: fewer pieces to walk per read.
  if (!pieces_.empty() && !pieces_.back().text.empty()) {
    pieces_.back().text.append(s);
  } else {
    piece p;
    p.start = size_;
    p.text = std::string(s);
    pieces_.push_back(std::move(p));
  }
  size_ += static_cast<int64_t>(s.size());
  text_bytes_ += static_cast<int64_t>(s.size());
}

void json_image_body::base64_of(blob bytes) {
  if (bytes.empty())
    return;
  piece p;
  p.start = size_;
  p.data = std::move(bytes);
  size_ += p.size();
  pieces_.push_back(std::move(p));
}

size_t json_image_body::read(int64_t offset, char* out, size_t max) const {
  // The piece holding `offset`: the last one starting at or before it.
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), offset,
                             [](int64_t off, const piece& p) { return off < p.start; });
  if (it == pieces_.begin())
    return 0;
  --it;
  size_t written = 0;
  for (; it != pieces_.end() && written < max; ++it) {
    auto within = std::max<int64_t>(0, offset + static_cast<int64_t>(written) - it->start);
    if (within >= it->size())
      continue;
    if (it->text.empty()) {
      written += read_base64(it->data.bytes(), within, out + written, max - written);
    } else {
      auto take = std::min<size_t>(max - written, it->text.size() - static_cast<size_t>(within));
      std::memcpy(out + written, it->text.data() + within, take);
      written += take;
    }
  }
  return written;
}

std::string json_image_body::str() const {
  std::string out(static_cast<size_t>(size_), '\0');
  size_t done = 0;
  while (done < out.size()) {
    auto n = read(static_cast<int64_t>(done), out.data() + done, out.size() - done);
    if (n == 0)
      break;
    done += n;
  }
  out.resize(done);
  return out;
}

json_image_body gemini_request_body(const generation_request& request) {
  std::vector<std::string> mimes;
  std::vector<blob> data;
  for (const auto& in : request.inputs) {
    mimes.push_back(in.mime_type);
    data.push_back(in.bytes);
  }
  return build(request.prompt, request.aspect_ratio, mimes, data);
}

int64_t gemini_request_size(const std::string& prompt,
                            const std::optional<std::string>& aspect_ratio,
                            const std::vector<int64_t>& input_sizes) {
  // "image/jpeg", "image/webp", "image/heic" and "image/heif" are the longest.
  std::vector<std::string> mimes(input_sizes.size(), "image/jpeg");
  std::vector<blob> none(input_sizes.size());
  auto size = build(prompt, aspect_ratio, mimes, none).size();
  for (auto n : input_sizes)
    size += base64_size(n);
  return size;
}

} // namespace quel
