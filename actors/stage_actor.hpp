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
  bool held = false;    // its credits are held (by the stage's one hold call)
  retry_state retries;  // failed attempts so far (next_retry decides)
  int attempts = 0;     // image actors started (docs/OPERATIONS.md, "Attempts")
  std::chrono::steady_clock::time_point started{};  // first attempt (metrics)
};

/// This stage's share of the quel_credits_held gauge: credits held for its
/// images and not yet captured or released. What is left when the stage
/// ends (a crash; the job's end releases those holds) leaves the gauge with
/// it, because this node no longer works on them.
class held_credits_meter {
public:
  void attach(std::shared_ptr<worker_metrics> m) { metrics_ = std::move(m); }
  void add(const image_identity& image) { move(image.org_id ? image.cost : 0); }
  void remove(const image_identity& image) { move(image.org_id ? -image.cost : 0); }
  ~held_credits_meter() { move(-credits_); }

private:
  void move(int64_t delta) {
    if (delta == 0 || !metrics_)
      return;
    credits_ += delta;
    metrics_->credits_held.add({}, static_cast<double>(delta));
  }
  std::shared_ptr<worker_metrics> metrics_;
  int64_t credits_ = 0;
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
  /// When the stage (this incarnation) started: its log line's duration_ms.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  /// The one hold call for the stage's images was answered.
  bool holds_taken = false;
  held_credits_meter held_meter;
  bool cancelled = false;                 // an operator's cancel: start nothing more
};

/// Makes one stage's images (supervised by the JobSupervisor):
///
///   for each image: acquire slot ──▶ acquire bytes ──▶ (fetch inputs ──▶ hold credits) ──▶ spawn ImageActor
///                     ▲                                                                         │ down(error)
///                     └──────────────────────── backoff (policy) ───────────────────────────────┘ retryable
///   every image made or given up ──▶ release the holds of given-up images
///     (one call) ──▶ stage_end report ──▶ quit
///
/// Credits: once the inputs are first fetched (and found good), one call
/// holds the credits of every image not yet made, before any model call;
/// images the balance cannot pay for are given up ("credits ran out"). A
/// hold lasts across the image's attempts (a retry does not hold again).
/// Holds left by a stage that crashed are taken again by its restart
/// (idempotent) or dropped when the job finishes.
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
