#pragma once

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
};

struct stage_state {
  stage_plan plan;
  stage_context_ptr ctx;
  job_supervisor_actor supervisor;
  std::vector<generation_input> inputs;   // fetched once, shared by images
  std::vector<image_slot_state> images;
  std::map<int, blob> kept;               // generated, not yet stored
  /// Running image actors by address, with their image index. The handle is
  /// kept (a strong reference): actors nobody references are destroyed, and
  /// the stage must stay alive to hear its children's down messages.
  std::map<caf::actor_addr, std::pair<int, image_actor>> running;
  std::vector<failed_image> failures;
  int made = 0;
  bool cancelled = false;                 // an operator's cancel: start nothing more
};

/// Makes one stage's images (supervised by the JobSupervisor):
///
///   fetch inputs ──▶ for each image: acquire slot ──▶ spawn ImageActor
///                                      ▲                    │ down(error)
///                                      └─ backoff (policy) ─┘ retryable, under limit
///   every image made or given up ──▶ stage_end report ──▶ quit
///
/// An input that cannot be read for good (missing object, not an image,
/// too large) fails every image of the stage; a transient read error makes
/// the stage quit with that error so the supervisor restarts it.
stage_actor::behavior_type
stage_actor_impl(stage_actor::stateful_pointer<stage_state> self, stage_plan plan,
                 stage_context_ptr ctx, job_supervisor_actor supervisor);

} // namespace quel
