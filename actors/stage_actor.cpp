#include "actors/stage_actor.hpp"

#include <algorithm>
#include <utility>

#include "actors/image_actor.hpp"
#include "actors/metric_labels.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "common/log_text.hpp"
#include "domain/image_format.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

using self_ptr = stage_actor::stateful_pointer<stage_state>;
using status = image_slot_state::status;

const std::string& job_of(self_ptr self) { return self->state.plan.identity.job_id.str(); }

int stage_of(self_ptr self) { return self->state.plan.identity.stage_index; }

/// Quits with `err` (the supervisor restarts the stage), stopping the image
/// actors first: left running, their images would be unknown to the
/// restarted stage, which could call the model a second time for them.
void stop_children(self_ptr self) {
  for (auto& [addr, entry] : self->state.running)
    self->send_exit(entry.second, caf::exit_reason::kill);
}

void crash(self_ptr self, caf::error err) {
  stop_children(self);
  self->quit(std::move(err));
}

/// Gives the credits held for given-up images back to the organisation at
/// once (one call), rather than when the job finishes.
void release_given_up(self_ptr self) {
  auto& st = self->state;
  std::vector<int32_t> unmade;
  for (int i = 0; i < static_cast<int>(st.images.size()); ++i)
    if (st.images[i].state == status::failed && st.images[i].held) {
      unmade.push_back(i);
      st.images[i].held = false;
      st.held_meter.remove(st.plan.identity);
    }
  if (!unmade.empty())
    self->send(st.ctx->images.ledger, unhold_atom::value, st.plan.identity,
               std::move(unmade));
}

void finish_if_settled(self_ptr self) {
  auto& st = self->state;
  for (auto& img : st.images)
    if (img.state == status::waiting || img.state == status::running)
      return;
  release_given_up(self);
  log::job_info(job_of(self), "Stage " + std::to_string(stage_of(self))
                                + " completed: " + std::to_string(st.made) + "/"
                                + std::to_string(st.plan.quantity)
                                + " images generated",
                {{"duration_ms", std::to_string(milliseconds_since(st.started))}});
  stage_report report{stage_of(self), st.failures};
  self->send(st.supervisor, stage_end_atom::value, std::move(report));
  self->quit();
}

/// An image ends (made or failed): its count and duration by module.
void count_image(self_ptr self, int index, const char* outcome) {
  auto& st = self->state;
  auto& m = *st.ctx->metrics;
  m.images.inc({st.plan.module, outcome});
  auto started = st.images[index].started;
  if (started != std::chrono::steady_clock::time_point{})
    m.image_duration.observe({st.plan.module, outcome}, seconds_since(started));
}

/// `reason_class` is the bounded label of quel_failures_total.
void give_up(self_ptr self, int index, const std::string& reason,
             const char* reason_class) {
  auto& st = self->state;
  auto& img = st.images[index];
  if (img.state == status::made || img.state == status::failed)
    return;
  img.state = status::failed;
  auto image = st.plan.identity.with_image(index);
  log::job_warn(job_of(self), "Image failed: " + image.where() + ": " + reason);
  st.failures.push_back(failed_image{std::move(image), reason, img.attempts});
  st.ctx->metrics->images_failed++;
  st.ctx->metrics->failures.inc({"image", reason_class});
  count_image(self, index, "failed");
}

void give_back(self_ptr self, int index);

void fail_all(self_ptr self, const std::string& reason, const char* reason_class) {
  // Images admitted for the inputs give their slot and bytes back; none of
  // them has an actor yet.
  for (auto index : std::exchange(self->state.awaiting_inputs, {}))
    give_back(self, index);
  for (int i = 0; i < static_cast<int>(self->state.images.size()); ++i)
    give_up(self, i, reason, reason_class);
  finish_if_settled(self);
}

/// The reason of images a cancel keeps from starting.
const char* const cancelled_reason = "cancelled";

void fetch_input(self_ptr self, size_t n);

/// Bytes one image of this stage reserves before it starts: its inputs (as
/// fetched, or their caps before the first fetch) and the request text held
/// in memory (the base64 of the inputs is streamed, never held). The reply
/// is counted as it arrives (image_context::reply_budget).
int64_t image_cost(self_ptr self) {
  auto& st = self->state;
  const auto& ctx = *st.ctx;
  int64_t inputs = 0;
  if (st.input_sizes.size() == st.plan.inputs.size()) {
    for (auto n : st.input_sizes)
      inputs += n;
  } else {
    for (const auto& in : st.plan.inputs)
      inputs += in.preloaded.empty() ? ctx.max_input_bytes
                                     : static_cast<int64_t>(in.preloaded.size());
    // Fetching stops once the request is over the model's limit, so at most
    // one input more than the limit is ever held.
    if (ctx.max_request_bytes > 0)
      inputs = std::min(inputs, ctx.max_request_bytes + ctx.max_input_bytes);
  }
  auto text = gemini_request_size(st.plan.prompt, st.plan.aspect_ratio,
                                  std::vector<int64_t>(st.plan.inputs.size(), 0));
  return inputs + text;
}

void give_back(self_ptr self, int index) {
  auto& st = self->state;
  self->send(st.ctx->image_slots, release_atom::value);
  if (auto r = st.reserved.find(index); r != st.reserved.end()) {
    self->send(st.ctx->image_bytes, release_atom::value, r->second);
    st.reserved.erase(r);
  }
}

void start_image(self_ptr self, int index) {
  auto& st = self->state;
  image_task task;
  task.image = st.plan.identity.with_image(index);
  task.lease = st.plan.lease;
  task.total_images = st.plan.total_images;
  task.resumed = st.plan.resumed || st.images[index].retries.failures > 0;
  task.prompt = st.plan.prompt;
  task.inputs = st.inputs;
  task.aspect_ratio = st.plan.aspect_ratio;
  task.module = st.plan.module;
  task.attempt = ++st.images[index].attempts;
  if (auto kept = st.kept.find(index); kept != st.kept.end())
    task.generated = kept->second;
  auto child = self->spawn<caf::monitored>(image_actor_impl, std::move(task),
                                           inner_context(st.ctx, &stage_context::images),
                                           stage_actor{self});
  st.running.emplace(child.address(), std::make_pair(index, child));
  st.ctx->metrics->images_in_flight++;
}

/// An admitted image starts once the inputs are there; the first one to
/// find them absent has them fetched.
void with_inputs(self_ptr self, int index) {
  auto& st = self->state;
  if (st.inputs_state == stage_state::inputs_status::ready)
    return start_image(self, index);
  st.awaiting_inputs.push_back(index);
  if (st.inputs_state == stage_state::inputs_status::absent) {
    st.inputs_state = stage_state::inputs_status::fetching;
    st.inputs.clear();
    fetch_input(self, 0);
  }
}

void start_awaiting(self_ptr self);
void hold_credits(self_ptr self);

void inputs_ready(self_ptr self) {
  auto& st = self->state;
  st.inputs_state = stage_state::inputs_status::ready;
  st.input_sizes.clear();
  for (const auto& in : st.inputs)
    st.input_sizes.push_back(static_cast<int64_t>(in.bytes.size()));
  // Reservations made before the sizes were known give back the surplus.
  auto exact = image_cost(self);
  for (auto& [index, bytes] : st.reserved)
    if (bytes > exact) {
      self->send(st.ctx->image_bytes, release_atom::value, bytes - exact);
      bytes = exact;
    }
  if (!st.holds_taken)
    return hold_credits(self);
  start_awaiting(self);
}

/// The admitted images start; those given up meanwhile (by the hold) give
/// their slot and bytes back instead.
void start_awaiting(self_ptr self) {
  auto& st = self->state;
  auto waiting = std::exchange(st.awaiting_inputs, {});
  for (auto index : waiting) {
    if (st.images[index].state == status::running && !st.cancelled) {
      start_image(self, index);
      continue;
    }
    give_back(self, index);
    if (st.cancelled)  // the image boundary: a cancel came while it waited
      give_up(self, index, cancelled_reason, "cancelled");
  }
  finish_if_settled(self);
}

/// Holds the credits of every image still to make in one call, once the
/// inputs are known to be good (nothing is held for a stage that fails on
/// its inputs), before any model call; the held images start, the others are
/// given up with the reason the hold gave. A hold lasts across an image's
/// attempts and across the inputs being dropped and fetched again.
void hold_credits(self_ptr self) {
  auto& st = self->state;
  std::vector<int32_t> wanted;
  for (int i = 0; i < st.plan.quantity; ++i)
    if ((st.images[i].state == status::waiting || st.images[i].state == status::running)
        && !st.images[i].held)
      wanted.push_back(i);
  if (wanted.empty()) {
    st.holds_taken = true;
    return start_awaiting(self);
  }
  self->request(st.ctx->images.ledger, caf::infinite, hold_atom::value, st.plan.identity,
                wanted)
    .then(
      [self, wanted](const hold_reply& r) {
        auto& st = self->state;
        if (r.outcomes.size() != wanted.size())
          return crash(self, make_failure(worker_errc::permanent,
                                          "the credit hold answered for the wrong images"));
        st.holds_taken = true;
        for (size_t k = 0; k < wanted.size(); ++k) {
          auto i = wanted[k];
          switch (r.outcomes[k]) {
            case hold_outcome::held:
              st.images[i].held = true;
              st.held_meter.add(st.plan.identity);
              break;
            case hold_outcome::insufficient_credits:
              log::job_warn(job_of(self), "Credits ran out: "
                                            + st.plan.identity.with_image(i).where()
                                            + " not generated");
              give_up(self, i, "credits ran out", "credits_exhausted");
              break;
            case hold_outcome::lease_lost:
              give_up(self, i, "lease lost to another worker", "lease_lost");
              break;
          }
        }
        fault::crash_point("after_hold");
        start_awaiting(self);
      },
      // A transient error makes the supervisor restart the stage (holds
      // are idempotent); a permanent one gives the stage's images up there.
      [self](caf::error& err) { crash(self, std::move(err)); });
}

void launch(self_ptr self, int index) {
  auto& st = self->state;
  if (st.cancelled) {
    give_up(self, index, cancelled_reason, "cancelled");
    return finish_if_settled(self);
  }
  st.images[index].state = status::running;
  if (st.images[index].started == std::chrono::steady_clock::time_point{})
    st.images[index].started = std::chrono::steady_clock::now();
  self->request(st.ctx->image_slots, caf::infinite, acquire_atom::value)
    .then(
      [self, index](bool) {
        auto& st = self->state;
        if (st.cancelled) {
          // The image boundary: a cancel that came while this image waited
          // for a slot keeps it from starting.
          self->send(st.ctx->image_slots, release_atom::value);
          give_up(self, index, cancelled_reason, "cancelled");
          return finish_if_settled(self);
        }
        self->request(st.ctx->image_bytes, caf::infinite, acquire_atom::value,
                      image_cost(self))
          .then(
            [self, index](int64_t granted) {
              auto& st = self->state;
              st.reserved[index] = granted;
              if (st.cancelled) {  // the same boundary, after the bytes
                give_back(self, index);
                give_up(self, index, cancelled_reason, "cancelled");
                return finish_if_settled(self);
              }
              with_inputs(self, index);
            },
            [self](caf::error& err) { crash(self, std::move(err)); });
      },
      [self](caf::error& err) { crash(self, std::move(err)); });
}

void on_image_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto i = st.running.find(dm.source);
  if (i == st.running.end())
    return;
  auto index = i->second.first;
  st.running.erase(i);
  st.ctx->metrics->images_in_flight--;
  give_back(self, index);
  if (st.running.empty() && st.awaiting_inputs.empty()
      && st.inputs_state == stage_state::inputs_status::ready) {
    // No image of the stage is admitted: inputs held now would sit outside
    // the budget while the next image waits for it (or for its backoff).
    st.inputs.clear();
    st.inputs.shrink_to_fit();
    st.inputs_state = stage_state::inputs_status::absent;
  }
  auto& img = st.images[index];
  if (img.state != status::running)
    return finish_if_settled(self); // made (reported before it quit)
  // A normal exit without a made_image report counts as a crash.
  auto reason = dm.reason ? reason_of(dm.reason) : "image actor stopped without a result";
  if (st.cancelled) {
    // No retry after a cancel: the attempt's own failure is the reason.
    give_up(self, index, reason, "cancelled");
    return finish_if_settled(self);
  }
  auto cls = dm.reason ? retry_class_of(dm.reason) : retry_class::retryable;
  auto delay = next_retry(st.ctx->image_retry, img.retries, cls,
                          retry_hint_of(dm.reason), retry_random());
  if (!delay) {
    if (cls == retry_class::retryable || cls == retry_class::retry_once)
      reason += " (after " + std::to_string(img.retries.failures) + " attempts)";
    give_up(self, index, reason, dm.reason ? error_class(dm.reason) : "crash");
    return finish_if_settled(self);
  }
  img.state = status::waiting;
  st.ctx->metrics->image_restarts++;
  st.ctx->metrics->retries.inc({"image", dm.reason ? error_class(dm.reason) : "crash"});
  log::job_warn(job_of(self), "Restarting image after failure",
                {{"stage", std::to_string(stage_of(self))},
                 {"image", std::to_string(index)},
                 {"attempt", std::to_string(img.retries.failures + 1)},
                 {"delay_ms", std::to_string(delay->count())},
                 {"reason", reason}});
  self->delayed_send(self, *delay, restart_atom::value, static_cast<int32_t>(index));
}

void run_images(self_ptr self) {
  auto& st = self->state;
  for (int i = 0; i < st.plan.quantity; ++i)
    if (st.images[i].state == status::waiting)
      launch(self, i);
  finish_if_settled(self);
}

void input_ready(self_ptr self, size_t n, blob bytes) {
  auto& st = self->state;
  auto& in = st.plan.inputs[n];
  auto mime = sniff_image_mime(bytes.bytes());
  if (!mime) {
    auto who = in.attach_id ? "attach " + std::to_string(*in.attach_id)
                            : "stage " + std::to_string(in.from_stage.value_or(0))
                                + " image " + std::to_string(in.from_index);
    return fail_all(self, "input " + std::to_string(n) + " (" + who
                            + ") is not a PNG, JPEG, WebP or HEIC image",
                    "invalid_input");
  }
  st.inputs.push_back(generation_input{in.category, in.description, *mime, bytes});
  if (auto limit = st.ctx->max_request_bytes; limit > 0) {
    // Checked as the inputs arrive: nothing more is fetched, and nothing
    // called or charged, for a request the model would refuse.
    std::vector<int64_t> sizes;
    int64_t raw = 0;
    for (const auto& got : st.inputs) {
      sizes.push_back(static_cast<int64_t>(got.bytes.size()));
      raw += sizes.back();
    }
    auto request = gemini_request_size(st.plan.prompt, st.plan.aspect_ratio, sizes);
    if (request > limit)
      return fail_all(self, "request too large for the model: the prompt and inputs 0.."
                              + std::to_string(n) + " (" + std::to_string(raw)
                              + " bytes) make " + std::to_string(request)
                              + " bytes with base64, more than the "
                              + std::to_string(limit)
                              + " bytes Gemini accepts in one request",
                    "invalid_input");
  }
  fetch_input(self, n + 1);
}

void fetch_input(self_ptr self, size_t n) {
  auto& st = self->state;
  if (n == st.plan.inputs.size())
    return inputs_ready(self);
  auto& in = st.plan.inputs[n];
  if (!in.preloaded.empty())
    return input_ready(self, n, in.preloaded);
  if (in.attach_id)
    log::job_info(job_of(self), "Downloading image: AttachID=" + std::to_string(*in.attach_id)
                                  + ", Type=" + clip_text(in.category, max_id_chars));
  auto max_bytes = st.ctx->max_input_bytes;
  auto sent = std::chrono::steady_clock::now();
  self->request(st.ctx->images.fetchers.next(), caf::infinite, fetch_atom::value,
                in.object_key, max_bytes)
    .then(
      [self, n, sent](blob& bytes) {
        self->state.ctx->metrics->storage_call_duration.observe({"get", "ok"},
                                                                seconds_since(sent));
        log::job_info(job_of(self), "Image downloaded successfully: "
                                      + std::to_string(bytes.size()) + " bytes");
        input_ready(self, n, std::move(bytes));
      },
      [self, n, sent](caf::error& err) {
        self->state.ctx->metrics->storage_call_duration.observe({"get", error_class(err)},
                                                                seconds_since(sent));
        auto& in = self->state.plan.inputs[n];
        auto who = in.attach_id ? "attach " + std::to_string(*in.attach_id)
                                : "stage " + std::to_string(in.from_stage.value_or(0))
                                    + " image " + std::to_string(in.from_index);
        if (has_code(err, worker_errc::object_missing))
          return fail_all(self, "input " + std::to_string(n) + " (" + who
                                  + "): object " + in.object_key
                                  + " is missing from storage",
                                "object_missing");
        if (!is_retryable(err))
          return fail_all(self, "input " + std::to_string(n) + " (" + who
                                  + "): " + reason_of(err), error_class(err));
        crash(self, std::move(err)); // transient: the supervisor restarts us
      });
}

} // namespace

stage_actor::behavior_type
stage_actor_impl(stage_actor::stateful_pointer<stage_state> self, stage_plan plan,
                 stage_context_ptr ctx, job_supervisor_actor supervisor) {
  auto& st = self->state;
  st.plan = std::move(plan);
  st.ctx = std::move(ctx);
  st.supervisor = std::move(supervisor);
  st.held_meter.attach(st.ctx->metrics);
  st.images.resize(static_cast<size_t>(st.plan.quantity));
  for (auto i : st.plan.already_made)
    if (i >= 0 && i < st.plan.quantity) {
      st.images[i].state = status::made;
      st.made++;
    }
  self->set_exception_handler([self](caf::scheduled_actor*, std::exception_ptr& ep) {
    stop_children(self);
    return failure_from_exception(ep);
  });
  self->set_down_handler([self](caf::down_msg& dm) { on_image_down(self, dm); });

  log::job_info(job_of(self), "\xF0\x9F\x8E\xAC Stage " + std::to_string(stage_of(self))
                                  + "/" + std::to_string(st.plan.largest_stage_index)
                                  + ": Processing " + std::to_string(st.plan.quantity)
                                  + " images");
  if (st.plan.doomed)
    fail_all(self, *st.plan.doomed, "input_unavailable");
  else if (st.made == st.plan.quantity)
    finish_if_settled(self);
  else
    run_images(self);
  return {
    [self](cancel_atom) {
      // Images waiting to start (for their inputs, or to be retried) never
      // will; running ones end as usual and then the stage reports.
      auto& st = self->state;
      st.cancelled = true;
      for (int i = 0; i < static_cast<int>(st.images.size()); ++i)
        if (st.images[i].state == status::waiting)
          give_up(self, i, cancelled_reason, "cancelled");
      finish_if_settled(self);
    },
    [self](made_atom, made_image& made) {
      auto& st = self->state;
      auto& img = st.images[made.image.image_index];
      if (img.state == status::made)
        return;
      img.state = status::made;
      st.made++;
      if (img.held) {
        img.held = false;  // captured by the commit
        st.held_meter.remove(st.plan.identity);
      }
      st.kept.erase(made.image.image_index);
      st.ctx->metrics->images_made++;
      count_image(self, made.image.image_index, "made");
      self->send(st.supervisor, made_atom::value, std::move(made));
      // The slot is given back when the image actor's down message arrives.
    },
    [self](keep_atom, int32_t index, blob& bytes) {
      self->state.kept[index] = std::move(bytes);
    },
    [self](restart_atom, int32_t index) { launch(self, index); },
  };
}

} // namespace quel
