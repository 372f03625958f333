#pragma once

#include <string>

namespace vips {
class VError;
}

/// libvips as one process-wide service: started once, its messages routed
/// through the worker's logger, its error state never carried from one call
/// (one job) to the next.
namespace quel {

/// Starts libvips once per process (thread-safe, cheap after the first
/// call): VIPS_INIT, no operation cache (input buffers are borrowed only for
/// one call) and GLib log handlers that send every libvips and GLib message
/// through quel::log, so JSON logs stay JSON and human lines stay escaped.
/// Throws generation_error (permanent) when libvips cannot start.
void start_vips();

/// The text of a libvips failure, with libvips' error buffer cleared: the
/// buffer is shared and only grows, so a later failure (another job's) would
/// otherwise carry this one's text too. Call it in every `catch (VError&)`.
std::string take_vips_error(const vips::VError& e);

} // namespace quel
