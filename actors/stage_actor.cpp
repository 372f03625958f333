#include "actors/stage_actor.hpp"

#include "actors/image_actor.hpp"
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

void finish_if_settled(self_ptr self) {
  auto& st = self->state;
  for (auto& img : st.images)
    if (img.state == status::waiting || img.state == status::running)
      return;
  log::job_info(job_of(self), "Stage " + std::to_string(stage_of(self))
                                + " completed: " + std::to_string(st.made) + "/"
                                + std::to_string(st.plan.quantity)
                                + " images generated");
  stage_report report{stage_of(self), st.failures};
  self->send(st.supervisor, stage_end_atom::value, std::move(report));
  self->quit();
}

void give_up(self_ptr self, int index, const std::string& reason) {
  auto& st = self->state;
  auto& img = st.images[index];
  if (img.state == status::made || img.state == status::failed)
    return;
  img.state = status::failed;
  auto image = st.plan.identity.with_image(index);
  log::job_warn(job_of(self), "Image failed: " + image.where() + ": " + reason);
  st.failures.push_back(failed_image{std::move(image), reason});
  st.ctx->metrics->images_failed++;
}

void fail_all(self_ptr self, const std::string& reason) {
  for (int i = 0; i < static_cast<int>(self->state.images.size()); ++i)
    give_up(self, i, reason);
  finish_if_settled(self);
}

/// The reason of images a cancel keeps from starting.
const char* const cancelled_reason = "cancelled";

void launch(self_ptr self, int index) {
  auto& st = self->state;
  if (st.cancelled) {
    give_up(self, index, cancelled_reason);
    return finish_if_settled(self);
  }
  st.images[index].state = status::running;
  self->request(st.ctx->image_slots, caf::infinite, acquire_atom::value)
    .then(
      [self, index](bool) {
        auto& st = self->state;
        if (st.cancelled) {
          // The image boundary: a cancel that came while this image waited
          // for a slot keeps it from starting.
          self->send(st.ctx->image_slots, release_atom::value);
          give_up(self, index, cancelled_reason);
          return finish_if_settled(self);
        }
        image_task task;
        task.image = st.plan.identity.with_image(index);
        task.lease = st.plan.lease;
        task.total_images = st.plan.total_images;
        task.resumed = st.plan.resumed || st.images[index].retries.failures > 0;
        task.prompt = st.plan.prompt;
        task.inputs = st.inputs;
        task.aspect_ratio = st.plan.aspect_ratio;
        if (auto kept = st.kept.find(index); kept != st.kept.end())
          task.generated = kept->second;
        auto child = self->spawn<caf::monitored>(image_actor_impl, std::move(task),
                                                 inner_context(st.ctx, &stage_context::images),
                                                 stage_actor{self});
        st.running.emplace(child.address(), std::make_pair(index, child));
        st.ctx->metrics->images_in_flight++;
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
  self->send(st.ctx->image_slots, release_atom::value);
  auto& img = st.images[index];
  if (img.state != status::running)
    return finish_if_settled(self); // made (reported before it quit)
  // A normal exit without a made_image report counts as a crash.
  auto reason = dm.reason ? reason_of(dm.reason) : "image actor stopped without a result";
  if (st.cancelled) {
    // No retry after a cancel: the attempt's own failure is the reason.
    give_up(self, index, reason);
    return finish_if_settled(self);
  }
  auto cls = dm.reason ? retry_class_of(dm.reason) : retry_class::retryable;
  auto delay = next_retry(st.ctx->image_retry, img.retries, cls,
                          retry_hint_of(dm.reason), retry_random());
  if (!delay) {
    if (cls == retry_class::retryable || cls == retry_class::retry_once)
      reason += " (after " + std::to_string(img.retries.failures) + " attempts)";
    give_up(self, index, reason);
    return finish_if_settled(self);
  }
  img.state = status::waiting;
  st.ctx->metrics->image_restarts++;
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

void fetch_input(self_ptr self, size_t n);

void input_ready(self_ptr self, size_t n, blob bytes) {
  auto& st = self->state;
  auto& in = st.plan.inputs[n];
  auto mime = sniff_image_mime(bytes.bytes());
  if (!mime) {
    auto who = in.attach_id ? "attach " + std::to_string(*in.attach_id)
                            : "stage " + std::to_string(in.from_stage.value_or(0))
                                + " image " + std::to_string(in.from_index);
    return fail_all(self, "input " + std::to_string(n) + " (" + who
                            + ") is not a PNG, JPEG, WebP or HEIC image");
  }
  st.inputs.push_back(generation_input{in.category, in.description, *mime, bytes});
  fetch_input(self, n + 1);
}

void fetch_input(self_ptr self, size_t n) {
  auto& st = self->state;
  if (n == st.plan.inputs.size())
    return run_images(self);
  auto& in = st.plan.inputs[n];
  if (!in.preloaded.empty())
    return input_ready(self, n, in.preloaded);
  if (in.attach_id)
    log::job_info(job_of(self), "Downloading image: AttachID=" + std::to_string(*in.attach_id)
                                  + ", Type=" + clip_text(in.category, max_id_chars));
  auto max_bytes = st.ctx->max_input_bytes;
  self->request(st.ctx->images.fetchers.next(), caf::infinite, fetch_atom::value,
                in.object_key, max_bytes)
    .then(
      [self, n](blob& bytes) {
        log::job_info(job_of(self), "Image downloaded successfully: "
                                      + std::to_string(bytes.size()) + " bytes");
        input_ready(self, n, std::move(bytes));
      },
      [self, n](caf::error& err) {
        auto& in = self->state.plan.inputs[n];
        auto who = in.attach_id ? "attach " + std::to_string(*in.attach_id)
                                : "stage " + std::to_string(in.from_stage.value_or(0))
                                    + " image " + std::to_string(in.from_index);
        if (has_code(err, worker_errc::object_missing))
          return fail_all(self, "input " + std::to_string(n) + " (" + who
                                  + "): object " + in.object_key
                                  + " is missing from storage");
        if (!is_retryable(err))
          return fail_all(self, "input " + std::to_string(n) + " (" + who
                                  + "): " + reason_of(err));
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
    fail_all(self, *st.plan.doomed);
  else if (st.made == st.plan.quantity)
    finish_if_settled(self);
  else
    fetch_input(self, 0);
  return {
    [self](cancel_atom) {
      // Images waiting to start (for their inputs, or to be retried) never
      // will; running ones end as usual and then the stage reports.
      auto& st = self->state;
      st.cancelled = true;
      for (int i = 0; i < static_cast<int>(st.images.size()); ++i)
        if (st.images[i].state == status::waiting)
          give_up(self, i, cancelled_reason);
      finish_if_settled(self);
    },
    [self](made_atom, made_image& made) {
      auto& st = self->state;
      auto& img = st.images[made.image.image_index];
      if (img.state == status::made)
        return;
      img.state = status::made;
      st.made++;
      st.kept.erase(made.image.image_index);
      st.ctx->metrics->images_made++;
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
