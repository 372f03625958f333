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
  CHECK(r.body.bytes() == build_request_body(sample_request()));
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
