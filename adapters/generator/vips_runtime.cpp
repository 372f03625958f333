#include "adapters/generator/vips_runtime.hpp"

#include <mutex>
#include <string>

#include <vips/vips8>

#include "adapters/generator/image_generator.hpp"
#include "common/log.hpp"

namespace quel {

namespace {

// libvips (and GLib under it) would print warnings such as "not enough
// data" for a truncated input straight to stderr, breaking JSON logs and
// bypassing escaping; they go through the logger instead, rate-limited per
// domain so a stream of bad images cannot flood the log.
void forward_glib_message(const gchar* domain, GLogLevelFlags flags, const gchar* message,
                          gpointer /*user_data*/) {
  std::string name = domain != nullptr ? domain : "glib";
  // As GLib's own handler: info and debug messages (e.g. "found
  // vips-modules") are for debugging only.
  auto level = (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) != 0
                 ? log::level::warn
               : (flags & G_LOG_LEVEL_MESSAGE) != 0 ? log::level::info
                                                    : log::level::debug;
  log::limited(level, "library-message:" + name + ":" + std::to_string(static_cast<int>(level)),
               10000,
               name == "VIPS" ? "libvips warning" : "library message",
               {{"domain", name}, {"detail", message != nullptr ? message : ""}});
}

} // namespace

void start_vips() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    // Handlers first: VIPS_INIT itself may warn (e.g. about a missing module).
    auto all = static_cast<GLogLevelFlags>(G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL
                                           | G_LOG_FLAG_RECURSION);
    g_log_set_default_handler(forward_glib_message, nullptr);
    for (const char* domain : {"VIPS", "GLib", "GLib-GObject", "GModule"})
      g_log_set_handler(domain, all, forward_glib_message, nullptr);
    if (VIPS_INIT("quel-worker") != 0) {
      failure = vips_error_buffer();
      vips_error_clear();
      return;
    }
    vips_cache_set_max(0);
    // Model replies and stored inputs are untrusted: loaders libvips marks
    // as unfit for them (SVG, PDF, MATLAB, FITS, ImageMagick, ...) are
    // refused; PNG, JPEG and WebP stay available.
    vips_block_untrusted_set(TRUE);
  });
  if (!failure.empty())
    throw generation_error("libvips could not start: " + failure, false);
}

std::string take_vips_error(const vips::VError& e) {
  std::string what = e.what();
  vips_error_clear();
  while (!what.empty() && (what.back() == '\n' || what.back() == ' '))
    what.pop_back();
  return what;
}

} // namespace quel
