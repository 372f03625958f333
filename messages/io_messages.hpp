#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "domain/housekeeping_records.hpp"
#include "common/blob.hpp"
#include "domain/credit_records.hpp"
#include "domain/dead_letter.hpp"
#include "domain/generation.hpp"
#include "domain/image_identity.hpp"
#include "domain/job_records.hpp"
#include "messages/wire_types.hpp"

/// Payloads of the requests to the I/O actors (PostgreSQL, Redis, storage,
/// the model). They are the plain domain values the adapter ports also take
/// (never an adapter header: the protocol does not depend on an adapter);
/// every request about one output image names it by its image_identity.
/// Local-only (see job_messages.hpp), except the types of wire_types.hpp,
/// which also travel to generator nodes and are serialised, not "unsafe".
namespace quel {

/// Reply of job_store_actor's start request.
struct start_reply {
  bool lease_held = false;
  std::vector<committed_image> committed;
};

/// Reply of a stage's hold: one outcome per image asked for, in order.
struct hold_reply {
  std::vector<hold_outcome> outcomes;
};

} // namespace quel

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::ids::job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::claimed_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::attach_row)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<quel::attach_row>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::start_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::job_finish)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::hold_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::image_commit)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::commit_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::dead_letter_entry)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::housekeeping_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::housekeeping_report)
