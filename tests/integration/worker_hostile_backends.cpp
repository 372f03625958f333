// Hostile-input table (docs/SECURITY.md section 8), rows M* and S*: hostile
// model replies (the Gemini stand-in) and storage replies (the Supabase
// Storage stand-in), all through one real worker (`run --drain`) with a good
// job among them. Every row is a one-image job of its own organisation; it
// ends with its recorded reason in error_message (or completes), and with
// the invariants of every row: not lost, charged only for the image made,
// no hold left, logs one sane line per entry.
#include <catch2/catch.hpp>

#include "tests/integration/worker_hostile_checks.hpp"
#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;
using nlohmann::json;

namespace {

struct backend_row {
  std::string row;   // table row id, as in docs/SECURITY.md
  std::string name;  // also the job's prompt, which the Gemini rules match
  json gemini;       // rules for this row (match is set to the prompt)
  // Rules for the row's own input object "inputs/<row>.png" (match is set
  // to it), or for its uploads when `upload` is true.
  json supabase;
  bool completed;    // the image is made (and charged once)
  std::vector<std::string> needles;  // in error_message when not completed
  int64_t gemini_calls = -1;          // model calls expected (-1: not checked)
  bool upload = false;
};

json rule(json fields) {
  return fields;
}

std::vector<backend_row> rows() {
  auto retry_info = [](const std::string& delay) {
    return rule({{"respond", "rate_limit"}, {"retry_delay", delay}});
  };
  auto image = rule({{"respond", "image_only"}});
  return {
    // Model replies.
    {"M1", "M1 HTML page with status 200",
     {rule({{"respond", "raw"}, {"status", 200}, {"content_type", "text/html"},
            {"body", "<html><body>upstream error</body></html>"}})},
     {}, false, {"malformed reply: <html>"}, 3},
    {"M2", "M2 empty body with status 200",
     {rule({{"respond", "raw"}, {"status", 200}, {"body", ""}})}, {}, false,
     {"malformed reply"}, 3},
    {"M3", "M3 JSON cut short", {rule({{"respond", "truncated"}})}, {}, false,
     {"malformed reply: {\"candidates\""}, 3},
    {"M4", "M4 error member of the wrong shape",
     {rule({{"respond", "raw"}, {"status", 400}, {"body", "{\"error\": \"a string\"}"}})}, {},
     false, {"HTTP 400"}, 1},
    {"M5", "M5 error wrapped in an array",
     {rule({{"respond", "raw"}, {"status", 403},
            {"body", "[{\"error\": {\"code\": 403, \"message\": \"denied\", "
                     "\"status\": \"PERMISSION_DENIED\"}}]"}})},
     {}, false, {"HTTP 403 PERMISSION_DENIED: denied"}, 1},
    {"M6", "M6 gateway 502 HTML page",
     {rule({{"respond", "raw"}, {"status", 502}, {"content_type", "text/html"},
            {"body", "<html>502 Bad Gateway</html>"}})},
     {}, false, {"HTTP 502"}, 3},
    {"M7", "M7 candidates of the wrong type",
     {rule({{"respond", "raw"}, {"status", 200}, {"body", "{\"candidates\": \"many\"}"}})}, {},
     false, {"no candidates"}, 2},
    {"M8", "M8 image data not base64",
     {rule({{"respond", "raw"}, {"status", 200},
            {"body", "{\"candidates\": [{\"content\": {\"parts\": [{\"inlineData\": "
                     "{\"mimeType\": \"image/png\", \"data\": \"%%%not base64%%%\"}}]}}]}"}})},
     {}, false, {"malformed image data in reply"}, 3},
    {"M9", "M9 no image, text only", {rule({{"respond", "text_only"}})}, {}, false,
     {"text only"}, 2},
    {"M10", "M10 2 MB text with forged log lines",
     {rule({{"respond", "text_only"}, {"text_bytes", 2000000}})}, {}, false,
     {"text only: I cannot draw that."}, 2},
    {"M11", "M11 truncated PNG",
     {rule({{"respond", "bad_image"}, {"kind", "truncated"}})}, {}, false,
     {"model image unusable: truncated or corrupt image data"}, 2},
    {"M12", "M12 PNG with a broken chunk",
     {rule({{"respond", "bad_image"}, {"kind", "corrupt"}})}, {}, false,
     {"model image unusable: truncated or corrupt image data"}, 2},
    {"M13", "M13 decompression bomb header",
     {rule({{"respond", "bad_image"}, {"kind", "bomb"}})}, {}, false,
     {"image is 16000x16000 pixels, more than limits.max_image_pixels (50000000)"}, 2},
    {"M14", "M14 HTML labelled image/png",
     {rule({{"respond", "inline"}, {"mime_type", "image/png"}, {"payload", "html"}})}, {},
     false, {"model image unusable"}, 2},
    // The label is the model's word; the bytes decide (a real PNG is used).
    {"M15", "M15 PNG labelled image/gif",
     {rule({{"respond", "inline"}, {"mime_type", "image/gif"}, {"payload", "png"}})}, {},
     true, {}, 1},
    {"M16", "M16 PNG labelled text/html",
     {rule({{"respond", "inline"}, {"mime_type", "text/html"}, {"payload", "png"}})}, {},
     true, {}, 1},
    // Untrusted numbers and texts around a good image: logged bounded and
    // escaped, the image still made.
    {"M22", "M22 token counts of 1e300 and -1",
     {rule({{"respond", "image_only"},
            {"usage", {{"promptTokenCount", 1e300}, {"candidatesTokenCount", -1},
                       {"totalTokenCount", 1.5}}}})},
     {}, true, {}, 1},
    {"M23", "M23 modelVersion of 1 MB with escape codes",
     {rule({{"respond", "image_only"},
            {"model_version", std::string(1000000, 'v') + "\n\u001b[2K"}})},
     {}, true, {}, 1},
    {"M24", "M24 finishReason of 100 KB with a forged line",
     {rule({{"respond", "finish"},
            {"finish_reason", "2026-01-01T00:00:00Z\n" + std::string(100000, 'F')}})},
     {}, false, {"2026-01-01T00:00:00Z"}, 2},
    {"M25", "M25 image data that is a number",
     {rule({{"respond", "raw"}, {"status", 200},
            {"body", "{\"candidates\": [{\"content\": {\"parts\": [{\"inlineData\": "
                     "{\"mimeType\": \"image/png\", \"data\": 12345678}}]}}]}"}})},
     {}, false, {"model image unusable"}, 2},
    // RetryInfo delays: clamped before conversion; over 60 s is "quota
    // exhausted" at once; a delay that does not parse is ignored (backoff).
    {"M17", "M17 RetryInfo 99999999999999999999999s",
     {retry_info("99999999999999999999999s")}, {}, false, {"quota exhausted"}, 1},
    {"M18", "M18 RetryInfo 86400.000000001s", {retry_info("86400.000000001s")}, {}, false,
     {"quota exhausted"}, 1},
    {"M19", "M19 RetryInfo 1e999s once",
     {rule({{"respond", "rate_limit"}, {"retry_delay", "1e999s"}, {"times", 1}}), image}, {},
     true, {}, 2},
    {"M20", "M20 RetryInfo -5s once",
     {rule({{"respond", "rate_limit"}, {"retry_delay", "-5s"}, {"times", 1}}), image}, {},
     true, {}, 2},
    {"M21", "M21 RetryInfo NaNs once",
     {rule({{"respond", "rate_limit"}, {"retry_delay", "NaNs"}, {"times", 1}}), image}, {}, true,
     {}, 2},
    // Storage replies to the download of the row's input.
    {"S1", "S1 download answered by an HTML 400", {},
     {rule({{"respond", "raw"}, {"status", 400}, {"content_type", "text/html"},
            {"body", "<html>Bad Request</html>"}})},
     false, {"storage HTTP 400: <html>"}, 0},
    {"S2", "S2 download answered by a bare HTTP 404", {},
     {rule({{"respond", "raw"}, {"status", 404}, {"content_type", "text/html"},
            {"body", "<html>Not Found</html>"}})},
     false, {"missing"}, 0},
    {"S3", "S3 download answered by 400 with statusCode 404", {},
     {rule({{"respond", "missing"}})}, false, {"missing"}, 0},
    {"S4", "S4 download of 21 MB", {}, {rule({{"respond", "raw"}, {"status", 200},
                                              {"content_type", "image/png"},
                                              {"bytes", 21 * 1024 * 1024}})},
     false, {"response larger than 20971520 bytes"}, 0},
    {"S9", "S9 chunked download of 21 MB", {}, {rule({{"respond", "raw"}, {"status", 200},
                                                      {"content_type", "image/png"},
                                                      {"chunked", true},
                                                      {"bytes", 21 * 1024 * 1024}})},
     false, {"response larger than 20971520 bytes"}, 0},
    {"S5", "S5 download of an HTML page", {},
     {rule({{"respond", "raw"}, {"status", 200}, {"content_type", "image/png"},
            {"body", "<html><body>captive portal</body></html>"}})},
     false, {"is not a PNG, JPEG, WebP or HEIC image"}, 0},
    {"S6", "S6 download error echoing the key", {},
     {rule({{"respond", "error"}, {"status", 403},
            {"message", "key " + secret_storage_key + " may not read this"}})},
     false, {"storage HTTP 400 (statusCode 403) AccessDenied"}, 0},
    {"S7", "S7 download error that is not JSON, status 500", {},
     {rule({{"respond", "raw"}, {"status", 500}, {"content_type", "text/plain"},
            {"body", "upstream connect error or disconnect/reset before headers"}})},
     false, {"storage HTTP 500: upstream connect error"}, 0},
    {"S8", "S8 upload answered by an HTML 403", {},
     {rule({{"respond", "raw"}, {"status", 403}, {"content_type", "text/html"},
            {"body", "<html>Forbidden</html>"}})},
     false, {"storage HTTP 403: <html>"}, 1, true},
  };
}

} // namespace

TEST_CASE("hostile model and storage replies: each row ends with its recorded reason",
          "[e2e][http][hostile]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto& db = fx.h().db();
  auto good_input = fx.add_input("inputs/good.png", sample_image("png", 0), std::nullopt);

  struct seeded {
    backend_row r;
    std::string job_id, org_id;
  };
  std::vector<seeded> jobs;
  json gemini_script = json::array();
  json supabase_script = json::array();
  for (auto& r : rows()) {
    auto input = good_input;
    auto key = "inputs/" + r.row + ".png";
    if (!r.supabase.empty() && !r.upload)
      input = fx.add_input(key, sample_image("png", 1), std::nullopt);
    auto [job, org] = make_http_job(fx, r.name, 1, {input}, 10);
    for (auto g : r.gemini) {
      g["match"] = r.name;
      gemini_script.push_back(g);
    }
    for (auto s : r.supabase) {
      s["match"] = r.upload ? "generated/" + job + "/" : key;
      s["method"] = r.upload ? "POST" : "GET";
      supabase_script.push_back(s);
    }
    jobs.push_back({r, job, org});
  }
  fx.script_gemini(gemini_script);
  fx.script_supabase(supabase_script);
  auto [good_job, good_org] = make_http_job(fx, "G good job among hostile ones", 1,
                                            {good_input}, 10);

  // Three attempts per image keep the rows that retry short.
  auto started = std::chrono::steady_clock::now();
  auto run = fx.drain({{"QUEL_RETRY_IMAGE_ATTEMPTS", "3"}, {"QUEL_RETRY_STAGE_ATTEMPTS", "2"}});
  auto took = std::chrono::steady_clock::now() - started;
  WARN("drain took "
       << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");

  auto stats = fx.gemini_stats();
  for (auto& s : jobs) {
    auto row = db.job(s.job_id);
    INFO("row " << s.r.row << ": " << s.r.name << "; error_message: "
                << row["error_message"].dump().substr(0, 600));
    check_http_job(fx, {s.job_id, s.org_id, 10, 1, s.r.completed ? 1 : 0, s.r.needles});
    if (!s.r.completed) {
      auto error = row["error_message"].get<std::string>();
      CHECK(error.size() <= 4000);
      CHECK(error.find(secret_storage_key) == std::string::npos);
      CHECK(error.find(gemini_test_key) == std::string::npos);
    }
    if (s.r.gemini_calls >= 0 && !s.r.gemini.empty())
      CHECK(fired(stats, s.r.name) == s.r.gemini_calls);
    check_row_invariants(fx.h(), s.job_id, s.org_id, 10);
  }
  // A missing object is an answer (asked once); a 500 is retried.
  CHECK(fx.storage_calls("GET", "inputs/S2.png") == 1);
  CHECK(fx.storage_calls("GET", "inputs/S7.png") >= 2);
  check_http_job(fx, {good_job, good_org, 10, 1, 1, {}});
  check_lists_empty(fx.h());
  check_no_holds(fx.h());
  CHECK(fx.h().redis().llen("jobs:dead") == 0);
  check_log_lines_safe(run.err, 8192, {"2026-01-01T00:00:00Z"});
  CHECK(run.err.find(secret_storage_key) == std::string::npos);
  CHECK(run.err.find(gemini_test_key) == std::string::npos);
}
