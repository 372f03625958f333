#pragma once

#include <optional>
#include <string>
#include <vector>

#include "adapters/adapter_failure.hpp"
#include "common/blob.hpp"
#include "domain/image_format.hpp"

namespace quel {

/// One input image of a generation request, in the order of the stage's
/// individualImageAttachIds.
struct generation_input {
  std::string category;     // model, top, ...
  std::string description;  // the module's description of the category
  std::string mime_type;    // what the bytes show
  blob bytes;
};

struct generation_request {
  std::string job_id;
  int stage_index = 0;
  int image_index = 0;
  std::string prompt;                       // full text part (build_prompt)
  std::vector<generation_input> inputs;
  std::optional<std::string> aspect_ratio;  // e.g. "3:4"
  output_format format = output_format::webp;
};

struct generated_image {
  blob bytes;              // encoded in request.format
  std::string mime_type;   // mime_type_of(request.format)
  std::string model_version;
};

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
