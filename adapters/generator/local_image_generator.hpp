#pragma once

#include <chrono>

#include "adapters/generator/image_generator.hpp"
#include "domain/job_spec.hpp"

namespace quel {

/// Makes a real picture on the machine itself with libvips, needing no key
/// or network (CONTRACT.md section 5, backend `local`): a collage of the
/// stage's inputs on a canvas shaped by the aspect ratio, tinted per image
/// index, with the prompt as a caption. Safe to call from several threads.
class local_image_generator : public image_generator {
public:
  /// `latency` is slept before each result is returned (benchmarks and fault
  /// tests use it to stand in for a slow model); `long_side` is the output's
  /// longer edge in pixels; an input whose header claims more than
  /// `max_input_pixels` (limits.max_image_pixels) is refused undecoded.
  explicit local_image_generator(
    std::chrono::milliseconds latency = std::chrono::milliseconds(0),
    int long_side = 768, int64_t max_input_pixels = job_limits{}.max_image_pixels);

  /// Throws generation_error(retryable=false) when an input is not a
  /// decodable image or its header is larger than the cap (a truncated one
  /// is drawn as far as it decodes); a HEIC/HEIF input libvips cannot decode becomes a grey
  /// placeholder tile instead.
  generated_image generate(const generation_request& request) override;

private:
  std::chrono::milliseconds latency_;
  int long_side_;
  int64_t max_input_pixels_;
};

} // namespace quel
