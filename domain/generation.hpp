#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/blob.hpp"
#include "common/byte_budget.hpp"
#include "domain/image_format.hpp"
#include "domain/image_identity.hpp"

/// What the image model is asked and answers, as plain values shared by the
/// image_generator port (adapters/generator) and the actor protocol.
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
  image_identity image;                     // which image (logs, local variants)
  std::string prompt;                       // full text part (build_prompt)
  std::vector<generation_input> inputs;
  std::optional<std::string> aspect_ratio;  // e.g. "3:4"
  output_format format = output_format::webp;
  /// Where the reply's bytes are counted as they arrive (the worker's byte
  /// budget). Local only: it is not sent to a generator node (wire_types.hpp
  /// leaves it out), whose reply the worker covers once it has arrived.
  std::shared_ptr<reply_reservation> reply_bytes;
};

struct generated_image {
  blob bytes;              // encoded in request.format
  std::string mime_type;   // mime_type_of(request.format)
  std::string model_version;
};

} // namespace quel
