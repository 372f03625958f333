#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "adapters/adapter_failure.hpp"
#include "domain/generation.hpp"

namespace quel {

/// How a generation failed: `retryable` failures are tried again with
/// backoff; the others fail the image at once. `reason` ends up in the job's
/// error_message (e.g. "IMAGE_SAFETY").
class generation_error : public adapter_error {
public:
  using adapter_error::adapter_error;
};

/// The image model (local generator or Gemini). No CAF here.
class image_generator {
public:
  virtual ~image_generator() = default;
  /// Makes one image; throws generation_error.
  virtual generated_image generate(const generation_request& request) = 0;
};

} // namespace quel
