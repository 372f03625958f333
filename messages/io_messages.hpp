#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "adapters/generator/image_generator.hpp"
#include "adapters/postgres/job_store.hpp"
#include "adapters/redis/housekeeping.hpp"
#include "adapters/redis/queue_store.hpp"
#include "common/blob.hpp"

/// Payloads of the requests to the I/O actors (PostgreSQL, Redis, storage,
/// the model). They reuse the plain structs of the adapter ports. Local-only,
/// see job_messages.hpp.
namespace quel {

/// Reply of job_store_actor's start request.
struct start_reply {
  bool lease_held = false;
  std::vector<committed_image> committed;
};

/// A credit hold for one image.
struct hold_request {
  std::string job_id;
  int64_t epoch = 0;
  int stage_index = 0;
  int image_index = 0;
  std::optional<std::string> org_id;
  int64_t cost = 0;
};

struct hold_reply {
  hold_outcome outcome = hold_outcome::held;
};

} // namespace quel

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::claimed_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::attach_row)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<quel::attach_row>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::start_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::job_finish)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::hold_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::hold_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::image_commit)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::commit_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::blob)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::generation_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::generated_image)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::dead_letter_entry)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::housekeeping_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::housekeeping_report)
