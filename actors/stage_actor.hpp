#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "actors/worker_context.hpp"
#include "adapters/http/retry_policy.hpp"
#include "messages/actor_types.hpp"

namespace quel {

struct image_slot_state {
  enum class status { waiting, running, made, failed };
  status state = status::waiting;
  retry_state retries;  // failed attempts so far (next_retry decides)
  std::chrono::steady_clock::time_point started{};  // first attempt (metrics)
};

struct stage_state {
  stage_plan plan;
  stage_context_ptr ctx;
  job_supervisor_actor supervisor;
  /// The inputs, shared by the images; held only while some image of the
  /// stage is admitted (its reservation in the byte budget counts them).
  std::vector<generation_input> inputs;
  enum class inputs_status { absent, fetching, ready };
  inputs_status inputs_state = inputs_status::absent;
  /// Input sizes once fetched (kept when the inputs are dropped, so later
  /// reservations are exact).
  std::vector<int64_t> input_sizes;
  /// Images admitted (slot and bytes held) that wait for the inputs.
  std::vector<int> awaiting_inputs;
  /// Bytes reserved in the budget per admitted image.
  std::map<int, int64_t> reserved;
  std::vector<image_slot_state> images;
  std::map<int, blob> kept;               // generated, not yet stored
  /// Running image actors by address, with their image index. The handle is
  /// kept (a strong reference): actors nobody references are destroyed, and
  /// the stage must stay alive to hear its children's down messages.
  std::map<caf::actor_addr, std::pair<int, image_actor>> running;
  std::vector<failed_image> failures;
  int made = 0;
};

/// Makes one stage's images (supervised by the JobSupervisor):
///
///   for each image: acquire slot ──▶ acquire bytes ──▶ (fetch inputs) ──▶ spawn ImageActor
///                     ▲                                                        │ down(error)
///                     └──────────────── backoff (policy) ──────────────────────┘ retryable
///   every image made or given up ──▶ stage_end report ──▶ quit
///
/// Each image reserves its cost in the byte budget (inputs, the request text
/// held, the reply cap) before anything is fetched or called. The first
/// admitted image has the inputs fetched; they are dropped again when no
/// image of the stage is admitted, so inputs waiting for the budget cost
/// nothing. An input that cannot be read for good (missing object, not an
/// image, too large), or inputs making a request larger than the model
/// accepts, fail every image of the stage before any model call; a transient
/// read error makes the stage quit with that error so the supervisor
/// restarts it.
stage_actor::behavior_type
stage_actor_impl(stage_actor::stateful_pointer<stage_state> self, stage_plan plan,
                 stage_context_ptr ctx, job_supervisor_actor supervisor);

} // namespace quel
