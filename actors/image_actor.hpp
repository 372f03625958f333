#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actors/worker_context.hpp"
#include "messages/actor_types.hpp"

namespace quel {

/// One image to make (a spawn argument, never sent as a message).
struct image_task {
  image_identity image;
  lease_clock_ptr lease;
  int total_images = 0;
  bool resumed = false;
  std::string prompt;
  std::vector<generation_input> inputs;
  std::optional<std::string> aspect_ratio;
  /// An image an earlier attempt generated but could not store: uploaded
  /// as it is, without calling the model again.
  blob generated;
  std::string module;  // the job's module (metric labels)
  int attempt = 1;     // 1 for its first image actor in this stage run, then 2, ...
};

/// Makes one image, as one attempt:
///
///   [resumed and object stored? ──yes──▶ fetch it] ──▶ commit
///                  │no
///   [kept from an earlier attempt, or generate] ──▶ store ──▶ commit ──▶ report made_image
///
/// Its credits are held by the stage before it is spawned (one call for the
/// stage's images); the commit captures the hold. Success: sends made_image
/// to `stage` and quits normally. Failure: quits with the error, keeping the
/// hold for the next attempt; the StageActor that monitors it decides on a
/// restart (retryable errors) or gives the image up and releases its hold.
image_actor::behavior_type image_actor_impl(image_actor::pointer self,
                                            image_task task,
                                            image_context_ptr ctx,
                                            stage_actor stage);

} // namespace quel
