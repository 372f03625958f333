// libvips as a process-wide service: its messages go through the worker's
// logger (JSON logs stay JSON) and its error state never outlives a call.
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <vips/vips8>

#include "adapters/generator/vips_runtime.hpp"
#include "common/log.hpp"
#include "tests/support/captured_stderr.hpp"

using namespace quel;

namespace {

/// What `fn` writes to stderr while the log format is JSON.
template <class Fn>
std::string json_log_of(Fn fn) {
  return test::captured_stderr([&] {
    log::set_format(log::format::json);
    fn();
    log::set_format(log::format::human);
  });
}

} // namespace

TEST_CASE("libvips and GLib messages become JSON log lines", "[media][vips][logs]") {
  start_vips();
  log::forget_limits();  // earlier tests' libvips warnings must not mute these
  auto out = json_log_of([] {
    g_log("VIPS", G_LOG_LEVEL_WARNING, "%s", "truncated input\n{\"forged\": true}");
    g_log("GLib-GObject", G_LOG_LEVEL_CRITICAL, "%s", "g_object_unref: assertion failed");
  });
  std::istringstream in(out);
  int lines = 0;
  bool saw_vips = false;
  for (std::string line; std::getline(in, line);) {
    ++lines;
    INFO(line);
    auto j = nlohmann::json::parse(line);  // throws (fails) on raw library output
    if (j.value("domain", "") == "VIPS") {
      saw_vips = true;
      CHECK(j["msg"] == "libvips warning");
      CHECK(j["detail"] == "truncated input\n{\"forged\": true}");
    }
  }
  CHECK(lines == 2);
  CHECK(saw_vips);
}

TEST_CASE("a libvips failure's text is taken once and cleared", "[media][vips]") {
  start_vips();
  const std::string garbage = "definitely not an image";
  std::string first;
  try {
    vips::VImage::new_from_buffer(garbage.data(), garbage.size(), "");
    FAIL("garbage decoded");
  } catch (const vips::VError& e) {
    first = take_vips_error(e);
  }
  CHECK_FALSE(first.empty());
  // Nothing is left for the next call (the next job) to report as its own.
  CHECK(std::string(vips_error_buffer()).empty());
}
