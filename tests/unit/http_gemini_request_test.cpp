#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/gemini/gemini_codec.hpp"
#include "adapters/http/base64.hpp"

using namespace quel;
using json = nlohmann::json;

namespace {

const std::string png_bytes = std::string("\x89PNG\r\n\x1a\n", 8) + "rest-of-png-1";
const std::string jpeg_bytes = std::string("\xff\xd8\xff\xe0", 4) + "jfif-ab";

generation_request sample_request() {
  generation_request r;
  r.image.job_id = quel::ids::job{"job"};
  r.prompt = "Line one \"quoted\"\nPut the person from image 1 into image 2 — café ✓";
  // The declared MIME type is wrong on purpose: the bytes decide (rule 16).
  r.inputs.push_back({"model", "the person", "image/png", blob(jpeg_bytes)});
  r.inputs.push_back({"top", "the top", "image/png", blob(png_bytes)});
  r.aspect_ratio = "3:4";
  return r;
}

/// Every object key in the document, depth first.
void for_each_key(const json& j, const std::function<void(const std::string&)>& f) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      f(it.key());
      for_each_key(it.value(), f);
    }
  } else if (j.is_array()) {
    for (const auto& v : j)
      for_each_key(v, f);
  }
}

} // namespace

TEST_CASE("gemini_url builds the generateContent endpoint", "[http][gemini]") {
  CHECK(gemini_url("https://generativelanguage.googleapis.com", "gemini-3.1-flash-image")
        == "https://generativelanguage.googleapis.com/v1beta/models/"
           "gemini-3.1-flash-image:generateContent");
  CHECK(gemini_url("http://127.0.0.1:8080/", "models/gemini-3-pro-image")
        == "http://127.0.0.1:8080/v1beta/models/gemini-3-pro-image:generateContent");
}

TEST_CASE("gemini headers carry the key and the JSON content type", "[http][gemini]") {
  auto h = gemini_headers("secret-key");
  CHECK(header_value(h, "x-goog-api-key") == "secret-key");
  CHECK(header_value(h, "content-type") == "application/json");
  CHECK(header_value(h, "authorization").empty());
}

TEST_CASE("request body: one user turn, prompt first, images in order", "[http][gemini]") {
  auto req = sample_request();
  auto body = json::parse(build_request_body(req));
  REQUIRE(body["contents"].size() == 1);
  const auto& content = body["contents"][0];
  CHECK(content["role"] == "user");
  const auto& parts = content["parts"];
  REQUIRE(parts.size() == 3);
  CHECK(parts[0]["text"] == req.prompt);
  CHECK(parts[1]["inlineData"]["mimeType"] == "image/jpeg");
  CHECK(parts[2]["inlineData"]["mimeType"] == "image/png");
  CHECK(base64_decode(parts[1]["inlineData"]["data"].get<std::string>()) == jpeg_bytes);
  CHECK(base64_decode(parts[2]["inlineData"]["data"].get<std::string>()) == png_bytes);
  CHECK(body["generationConfig"]["responseModalities"] == json::array({"TEXT", "IMAGE"}));
  CHECK(body["generationConfig"]["imageConfig"]["aspectRatio"] == "3:4");
}

TEST_CASE("request body uses camelCase and no Vertex-only fields", "[http][gemini]") {
  auto body = json::parse(build_request_body(sample_request()));
  for_each_key(body, [](const std::string& key) {
    INFO(key);
    CHECK(key.find('_') == std::string::npos);
    CHECK(key != "outputMimeType");
    CHECK(key != "personGeneration");
  });
  CHECK(body.size() == 2);  // contents, generationConfig
  CHECK(body["generationConfig"].size() == 2);
}

TEST_CASE("image data is standard base64 with padding", "[http][gemini]") {
  auto req = sample_request();
  // 0xFB 0xFF encodes to "+/8=" in the standard alphabet, "-_8" in URL-safe.
  std::string bytes = std::string("\x89PNG\r\n\x1a\n\0", 9) + "\xfb\xff";
  req.inputs = {{"model", "m", "", blob(bytes)}};
  auto body = json::parse(build_request_body(req));
  auto data = body["contents"][0]["parts"][1]["inlineData"]["data"].get<std::string>();
  CHECK(data == base64_encode(bytes));
  CHECK(data.size() % 4 == 0);
  CHECK(data.find_first_of("-_") == std::string::npos);
  CHECK(data.find("+/8=") != std::string::npos);
}

TEST_CASE("aspect ratio is left out when the job gives none", "[http][gemini]") {
  auto req = sample_request();
  req.aspect_ratio.reset();
  auto body = json::parse(build_request_body(req));
  CHECK_FALSE(body["generationConfig"].contains("imageConfig"));
  CHECK(body["generationConfig"]["responseModalities"].size() == 2);
}

TEST_CASE("a request without inputs is just the text part", "[http][gemini]") {
  generation_request req;
  req.prompt = "draw";
  auto body = json::parse(build_request_body(req));
  REQUIRE(body["contents"][0]["parts"].size() == 1);
  CHECK(body["contents"][0]["parts"][0]["text"] == "draw");
}

TEST_CASE("an input that is not an image fails permanently", "[http][gemini]") {
  auto req = sample_request();
  req.inputs.push_back({"shoes", "the shoes", "image/png", blob(std::string("GIF89a...."))});
  try {
    build_request_body(req);
    FAIL("expected generation_error");
  } catch (const generation_error& e) {
    CHECK_FALSE(e.retryable());
    CHECK(std::string(e.what()).find("input image 3 (shoes)") != std::string::npos);
  }
}

TEST_CASE("make_gemini_request sets method, URL, headers and timeouts", "[http][gemini]") {
  gemini_settings s;
  s.base_url = "http://127.0.0.1:9";
  s.api_key = "k";
  s.model = "gemini-2.5-flash-image";
  s.timeout = std::chrono::seconds(77);
  auto r = make_gemini_request(s, sample_request());
  CHECK(r.method == "POST");
  CHECK(r.url == "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash-image:generateContent");
  CHECK(header_value(r.headers, "x-goog-api-key") == "k");
  CHECK(r.total_timeout == std::chrono::seconds(77));
  CHECK(r.max_response_bytes == gemini_max_reply_bytes);
  REQUIRE(r.stream);
  CHECK(r.body.empty());  // streamed instead
  std::string sent(static_cast<size_t>(r.stream->size()), '\0');
  CHECK(r.stream->read(0, sent.data(), sent.size()) == sent.size());
  CHECK(sent == build_request_body(sample_request()));
}

TEST_CASE("a streamed body reads the same at every offset and chunk size", "[http][gemini]") {
  // Inputs of every length modulo 3 (padding 0, 1 and 2) and all byte values.
  std::string raw;
  for (int i = 0; i < 1000; ++i)
    raw += static_cast<char>(i * 37 % 256);
  for (size_t len : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{1000}}) {
    json_image_body body;
    body.text("{\"a\":\"");
    body.base64_of(blob(raw.substr(0, len)));
    body.text("\",\"b\":\"");
    body.base64_of(blob(raw.substr(0, len / 2)));
    body.text("\"}");
    auto expected = "{\"a\":\"" + base64_encode(raw.substr(0, len)) + "\",\"b\":\""
                    + base64_encode(raw.substr(0, len / 2)) + "\"}";
    CHECK(body.size() == static_cast<int64_t>(expected.size()));
    CHECK(body.text_bytes() == 15);
    for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{7}, size_t{4096}}) {
      std::string got;
      char buf[4096];
      for (size_t n; (n = body.read(static_cast<int64_t>(got.size()), buf, chunk)) > 0;)
        got.append(buf, n);
      INFO("length " << len << ", chunk " << chunk);
      CHECK(got == expected);
    }
    // A rewind (libcurl resending on a fresh connection) reads from 0 again.
    std::string again(expected.size(), '\0');
    CHECK(body.read(0, again.data(), again.size()) == expected.size());
    CHECK(again == expected);
  }
}

TEST_CASE("the request size is known before the inputs are fetched", "[http][gemini]") {
  auto request = sample_request();
  auto exact = request_body(request)->size();
  std::vector<int64_t> sizes{static_cast<int64_t>(jpeg_bytes.size()),
                             static_cast<int64_t>(png_bytes.size())};
  auto estimate = gemini_request_size(request.prompt, request.aspect_ratio, sizes);
  // "image/png" is one byte shorter than the MIME type assumed.
  CHECK(estimate == exact + 1);
}

TEST_CASE("a request over Gemini's 20 MiB is refused before it is sent", "[http][gemini]") {
  generation_request r = sample_request();
  // 15 MiB of PNG is 20 MiB of base64: with the JSON around it, over the limit.
  std::string big = png_bytes + std::string((size_t{15} << 20) - png_bytes.size(), 'x');
  r.inputs = {{"model", "the person", "image/png", blob(big)}};
  try {
    (void)request_body(r);
    FAIL("no exception");
  } catch (const generation_error& e) {
    CHECK_FALSE(e.retryable());
    CHECK_THAT(e.what(), Catch::Contains("more than the 20971520 bytes (20 MiB) Gemini accepts"));
  }
  // Just under the limit is fine.
  r.inputs = {{"model", "the person", "image/png", blob(big.substr(0, (size_t{15} << 20) - 4096))}};
  CHECK(request_body(r)->size() <= gemini_max_request_bytes);
}

TEST_CASE("base64 round trips and accepts the URL-safe alphabet", "[http][base64]") {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    CHECK(base64_decode(base64_encode(s)) == s);
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_decode("-_8") == std::string("\xfb\xff"));
  CHECK(base64_decode("+/8=") == std::string("\xfb\xff"));
  CHECK_FALSE(base64_decode("Zm9v!").has_value());
  CHECK_FALSE(base64_decode("Z").has_value());
}
