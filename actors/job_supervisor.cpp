#include "actors/job_supervisor.hpp"

#include <algorithm>
#include <limits>

#include "actors/guarded_call.hpp"
#include "actors/metric_labels.hpp"
#include "actors/stage_actor.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "common/uuid.hpp"
#include "domain/job_validation.hpp"
#include "domain/stage_planning.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

using self_ptr = job_supervisor_actor::stateful_pointer<job_supervisor_state>;
using action = job_disposition::action;

const std::string& job_of(self_ptr self) { return self->state.ticket.job_id; }

job_store_actor store_of(self_ptr self) { return self->state.ctx->job_stores.next(); }

void end(self_ptr self, action what, std::string reason = {},
         bool completed = false, bool failed = false) {
  auto& st = self->state;
  if (st.ended)
    return;
  st.ended = true;
  for (auto& [index, run] : st.stages)
    if (run.actor)
      self->send_exit(run.actor, caf::exit_reason::kill);
  if (completed || failed)
    st.ctx->metrics->job_duration.observe({st.ticket.module, completed ? "completed" : "failed"},
                                          seconds_since(st.started));
  job_disposition d{st.ticket, what, std::move(reason), completed, failed};
  self->send(st.queue, job_end_atom::value, std::move(d));
  self->quit();
}

void finish(self_ptr self) {
  auto& st = self->state;
  auto& progress = *st.progress;
  job_finish f;
  f.job_id = self->state.id;
  f.epoch = st.job.epoch;
  f.error_message = progress.error_summary();
  // "cancelled: <the usual summary>": the reason first (what an operator
  // and `status` look for), then which images that left unmade. A cancel
  // that came after the last image started leaves a completed job.
  if (st.cancelling && f.error_message)
    f.error_message = "cancelled: " + *f.error_message;
  f.completed = !f.error_message.has_value();
  f.ordered_attach_ids = progress.ordered_attach_ids();
  f.failed_images = progress.failed_images();
  self->request(store_of(self), caf::infinite, finish_atom::value, f)
    .then(
      [self, f](bool held) {
        fault::crash_point("after_finish");
        if (!held) {
          log::job_warn(job_of(self), "Lease lost before finishing; another worker owns the job");
          return end(self, action::ack, "lease lost");
        }
        // The job's duration rides on its last line (JSON: a number).
        log::fields took{{"duration_ms", std::to_string(milliseconds_since(self->state.started))}};
        if (f.completed) {
          log::job_info(job_of(self), "Job completed", took);
        } else {
          log::job_warn(job_of(self), "Job failed: " + *f.error_message, took);
          self->state.ctx->metrics->failures.inc({"job", "images_failed"});
        }
        end(self, action::ack, {}, f.completed, !f.completed);
      },
      [self](caf::error& err) { self->quit(std::move(err)); });
}

/// Retries of a failed lease renewal (or claim): soon at first, never slower
/// than the normal renewal period, and without limit (the job's end, or a
/// node shutdown for an unclaimed job, stops them).
backoff_policy renew_retry(std::chrono::milliseconds lease_ttl) {
  auto period = std::max(lease_ttl / 3, std::chrono::milliseconds(1));
  return backoff_policy{std::min(period, std::chrono::milliseconds(200)), period,
                        std::numeric_limits<int>::max()};
}

stage_plan plan_for(self_ptr self, const stage_spec& stage) {
  auto& st = self->state;
  auto run = st.stages.find(stage.stage_index);
  bool restarted = run != st.stages.end() && run->second.restarts > 0;
  job_facts facts{st.job, *st.module, *st.progress, st.input_keys, st.outputs};
  return stage_plan{plan_stage(facts, stage, restarted), st.lease, st.ticket.module};
}

void start_stage(self_ptr self, int stage_index) {
  auto& st = self->state;
  auto* stage = st.progress->spec().find_stage(stage_index);
  st.progress->mark_started(stage_index);
  auto child = self->spawn<caf::monitored>(stage_actor_impl, plan_for(self, *stage),
                                           inner_context(st.ctx, &job_context::stages),
                                           job_supervisor_actor{self});
  st.stages[stage_index].actor = child;
}

/// How often a running job looks for an operator's cancel.
constexpr std::chrono::milliseconds cancel_check_period{500};

/// After a cancel: every stage not running now never will; its images not
/// made count as failed ("cancelled").
void cancel_idle_stages(self_ptr self) {
  auto& st = self->state;
  for (auto& stage : st.progress->spec().stages) {
    auto index = stage.stage_index;
    auto run = st.stages.find(index);
    if (st.progress->is_done(index) || (run != st.stages.end() && run->second.actor))
      continue;
    for (int i = 0; i < stage.quantity; ++i)
      if (st.progress->made(index, i) == nullptr) {
        st.progress->mark_failed(index, i, "cancelled", 0);  // never started
        st.ctx->metrics->images_failed++;
      }
    st.progress->mark_done(index);
  }
}

void advance(self_ptr self) {
  auto& st = self->state;
  if (st.cancelling)
    cancel_idle_stages(self);
  else
    for (auto index : st.progress->ready_stages())
      start_stage(self, index);
  if (st.progress->all_done())
    finish(self);
}

void give_up_stage(self_ptr self, int stage_index, const std::string& reason) {
  auto& st = self->state;
  auto* stage = st.progress->spec().find_stage(stage_index);
  for (int i = 0; i < stage->quantity; ++i)
    if (st.progress->made(stage_index, i) == nullptr) {
      st.progress->mark_failed(stage_index, i, reason);
      st.ctx->metrics->images_failed++;
      st.ctx->metrics->images.inc({st.ticket.module, "failed"});
      st.ctx->metrics->failures.inc({"image", "stage_gave_up"});
    }
  st.progress->mark_done(stage_index);
  advance(self);
}

void on_stage_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  for (auto& [index, run] : st.stages) {
    if (!run.actor || run.actor.address() != dm.source)
      continue;
    run.actor = nullptr;
    if (!dm.reason || st.progress->is_done(index))
      return; // finished normally: its stage_end report was handled
    auto reason = reason_of(dm.reason);
    if (!is_retryable(dm.reason))
      return give_up_stage(self, index, reason);
    auto delay = st.ctx->settings.stage_retry.delay_with_hint(
      run.restarts + 1, retry_hint_of(dm.reason), retry_random());
    if (!delay)
      return give_up_stage(self, index, reason + " (stage gave up after "
                                           + std::to_string(run.restarts + 1)
                                           + " attempts)");
    run.restarts++;
    st.ctx->metrics->stage_restarts++;
    st.ctx->metrics->retries.inc({"stage", error_class(dm.reason)});
    log::job_warn(job_of(self), "Restarting stage after failure",
                  {{"stage", std::to_string(index)},
                   {"delay_ms", std::to_string(delay->count())},
                   {"reason", reason}});
    self->delayed_send(self, *delay, restart_atom::value, static_cast<int32_t>(index));
    return;
  }
}

void begin_work(self_ptr self) {
  auto& st = self->state;
  auto total = st.progress->total();
  self->request(store_of(self), caf::infinite, start_atom::value, st.id,
                st.job.epoch, static_cast<int32_t>(total))
    .then(
      [self](start_reply& reply) {
        fault::crash_point("after_start");
        auto& st = self->state;
        if (!reply.lease_held)
          return end(self, action::ack, "lease lost");
        for (auto& c : reply.committed)
          st.progress->mark_made(c.stage_index, c.image_index, c.attach_id, c.object_key);
        if (!reply.committed.empty())
          log::job_info(job_of(self), "Resuming job: " + std::to_string(reply.committed.size())
                                        + " images already made");
        auto period = st.ctx->settings.lease_ttl / 3;
        self->delayed_send(self, period, renew_atom::value);
        // Looked at once before any stage starts, so a job cancelled while
        // it waited (or whose node died after the cancel) makes nothing.
        self->send(self, cancel_atom::value);
      },
      [self](caf::error& err) { self->quit(std::move(err)); });
}

void fail_invalid(self_ptr self, const std::string& message) {
  auto& st = self->state;
  log::job_warn(job_of(self), "Invalid job input: " + message);
  st.ctx->metrics->failures.inc({"job", "invalid_input"});
  self->request(store_of(self), caf::infinite, invalid_atom::value, st.id,
                st.job.epoch, message)
    .then([self](bool) { end(self, action::ack, {}, false, true); },
          [self](caf::error& err) { self->quit(std::move(err)); });
}

void validate(self_ptr self) {
  auto& st = self->state;
  auto parsed = parse_job_input(st.job.job_type, st.job.input_json, st.ctx->modules,
                                st.ticket.module, st.ctx->settings.limits);
  if (auto* bad = std::get_if<invalid_job>(&parsed))
    return fail_invalid(self, bad->message);
  st.progress = std::make_unique<job_progress>(std::get<job_spec>(std::move(parsed)));
  auto ids = st.progress->spec().attach_ids();
  if (ids.empty())
    return begin_work(self);
  for (auto id : ids)
    log::job_info(job_of(self), "Fetching attach info: " + std::to_string(id));
  self->request(store_of(self), caf::infinite, attach_atom::value, ids)
    .then(
      [self](std::vector<attach_row>& rows) {
        auto& st = self->state;
        auto checked = resolve_input_keys(st.progress->spec(), rows);
        if (auto* bad = std::get_if<invalid_job>(&checked))
          return fail_invalid(self, bad->message);
        st.input_keys = std::get<std::map<int64_t, std::string>>(std::move(checked));
        begin_work(self);
      },
      [self](caf::error& err) { self->quit(std::move(err)); });
}

void claim(self_ptr self);

/// Claims the job again once `delay` has passed, keeping the id in this
/// node's processing list meanwhile (so a crash here cannot lose it).
void claim_later(self_ptr self, std::chrono::milliseconds delay) {
  self->state.waiting = true;
  self->delayed_send(self, delay, recheck_atom::value);
}

/// The job is under another node's live lease. Its id may leave Redis only
/// if that node still has it in a processing list: then the holder finishes
/// the job (or, should it die, its list goes back to the queues). A holder
/// that crashed and whose ids were handed back (a restart, the reaper) will
/// never finish it, so this node keeps the id and claims the job as soon as
/// the dead incarnation's lease can have expired.
void check_holder(self_ptr self, const claimed_job& job) {
  auto& st = self->state;
  std::vector<std::string> lists;
  for (auto& m : st.ctx->modules.all())
    lists.push_back(redis_keys::processing(job.owner_node, m.queue));
  if (std::find(lists.begin(), lists.end(),
                redis_keys::processing(job.owner_node, st.ticket.queue)) == lists.end())
    lists.push_back(redis_keys::processing(job.owner_node, st.ticket.queue));
  // A little past the expiry, so the next claim does not find it still live.
  auto wait = job.lease_left + std::chrono::milliseconds(100);
  auto owner = job.owner_node;
  auto keep = [self, owner, wait] {
    log::job_info(job_of(self), "Job is under another node's lease but that node does not "
                                "hold its id; claiming it when the lease expires",
                  {{"owner", owner}, {"wait_ms", std::to_string(wait.count())}});
    claim_later(self, wait);
  };
  self->request(st.ctx->redis, caf::infinite, held_atom::value, std::move(lists),
                job_of(self))
    .then(
      [self, owner, keep](bool held) {
        if (self->state.ended)
          return;
        if (!held)
          return keep();
        log::job_info(job_of(self), "Job is held by another live node; dropping this copy "
                                    "of its id", {{"owner", owner}});
        end(self, action::ack);
      },
      [self, keep](caf::error& err) {
        // Not knowing is not a reason to drop the id: keep it and retry.
        if (self->state.ended)
          return;
        log::job_warn(job_of(self), "Could not check the job's holder in Redis",
                      {{"error", reason_of(err)}});
        keep();
      });
}

void claim(self_ptr self) {
  auto sent = lease_clock::now_ms();
  self->request(store_of(self), caf::infinite, claim_atom::value, self->state.id)
    .then(
      [self, sent](claimed_job& job) {
        auto& st = self->state;
        using outcome = claimed_job::outcome;
        switch (job.result) {
          case outcome::missing:
            if (!st.rechecked) {
              st.rechecked = true;
              return claim_later(self, st.ctx->settings.missing_job_recheck);
            }
            log::job_warn(job_of(self), "No job row for this id; dead-lettering it");
            st.ctx->metrics->failures.inc({"job", "no_job_row"});
            return end(self, action::dead_letter, "no job row with this id");
          case outcome::finished:
            log::job_info(job_of(self), "Job already " + job.status + "; dropping the id");
            return end(self, action::ack);
          case outcome::leased_elsewhere:
            return check_holder(self, job);
          case outcome::quarantined:
            log::job_error(job_of(self), "Job quarantined after repeated crashes");
            st.ctx->metrics->failures.inc({"job", "quarantined"});
            return end(self, action::ack, {}, false, true);
          case outcome::claimed:
            break;
        }
        fault::crash_point("after_claim");
        st.lease->extend_from(sent, st.ctx->settings.lease_ttl);
        st.job = std::move(job);
        validate(self);
      },
      [self](caf::error& err) {
        // Nothing is held before a claim, so waiting is safe: the id stays
        // in this node's processing list and the claim is tried again with
        // backoff (a claim that fails every time must not send its id round
        // the queue in a hot loop, nor be dropped).
        auto& st = self->state;
        st.claim_failures++;
        st.ctx->metrics->retries.inc({"claim", error_class(err)});
        auto delay = renew_retry(st.ctx->settings.lease_ttl)
                       .delay(st.claim_failures, retry_random());
        log::job_warn(job_of(self), "Claim failed; retrying",
                      {{"error", reason_of(err)},
                       {"attempt", std::to_string(st.claim_failures)},
                       {"delay_ms", std::to_string(delay.count())}});
        claim_later(self, delay);
      });
}

} // namespace

job_supervisor_actor::behavior_type
job_supervisor_impl(job_supervisor_actor::stateful_pointer<job_supervisor_state> self,
                    job_ticket ticket, job_context_ptr ctx, queue_actor queue) {
  auto& st = self->state;
  st.ticket = std::move(ticket);
  st.id = ids::job{st.ticket.job_id};
  st.ctx = std::move(ctx);
  st.queue = std::move(queue);
  st.module = st.ctx->modules.by_queue(st.ticket.queue);
  classify_escaped_exceptions(self);
  self->set_down_handler([self](caf::down_msg& dm) { on_stage_down(self, dm); });
  log::job_info(job_of(self), "Received new job: " + job_of(self),
                {{"queue", st.ticket.queue}});
  if (!is_uuid(job_of(self))) {
    log::job_warn(job_of(self), "Job id is not a UUID; dead-lettering it");
    st.ctx->metrics->failures.inc({"job", "invalid_id"});
    end(self, action::dead_letter, "job id is not a UUID");
  } else {
    claim(self);
  }
  return {
    [self](made_atom, made_image& made) {
      auto& st = self->state;
      auto& at = made.image;
      st.progress->mark_made(at.stage_index, at.image_index, made.attach_id,
                             made.object_key);
      st.outputs[{at.stage_index, at.image_index}] = made.bytes;
    },
    [self](stage_end_atom, stage_report& report) {
      auto& st = self->state;
      for (auto& f : report.failures)
        st.progress->mark_failed(f.image.stage_index, f.image.image_index, f.reason,
                                 f.attempts);
      st.progress->mark_done(report.stage_index);
      advance(self);
    },
    [self](restart_atom, int32_t stage_index) {
      auto& st = self->state;
      if (!st.ended && !st.cancelling && !st.progress->is_done(stage_index))
        start_stage(self, stage_index);
    },
    [self](cancel_atom) {
      // One look at a time; the reply schedules the next.
      auto& st = self->state;
      if (st.ended || st.cancelling)
        return;
      self->request(st.ctx->redis, caf::infinite, cancel_atom::value, job_of(self))
        .then(
          [self](bool cancelled) {
            auto& st = self->state;
            if (st.ended || st.cancelling)
              return;
            if (!cancelled) {
              self->delayed_send(self, cancel_check_period, cancel_atom::value);
              // The first look gates the start (see begin_work).
              if (!std::exchange(st.cancel_looked, true))
                advance(self);
              return;
            }
            st.cancelling = true;
            st.cancel_looked = true;
            log::job_warn(job_of(self), "Cancel requested; stopping at the next image boundary");
            for (auto& [index, run] : st.stages)
              if (run.actor)
                self->send(run.actor, cancel_atom::value);
            advance(self);
          },
          [self](caf::error& err) {
            // Redis unreachable: the job goes on and the look is repeated.
            auto& st = self->state;
            if (st.ended || st.cancelling)
              return;
            log::limited(log::level::warn, "cancel-check-" + job_of(self), 10000,
                         "Could not look for a cancel of this job in Redis",
                         {{"job", job_of(self)}, {"error", reason_of(err)}});
            self->delayed_send(self, cancel_check_period, cancel_atom::value);
            if (!std::exchange(st.cancel_looked, true))
              advance(self);
          });
    },
    [self](recheck_atom) {
      self->state.waiting = false;
      if (!self->state.ended)
        claim(self);
    },
    [self](renew_atom) {
      auto& st = self->state;
      if (st.ended)
        return;
      auto sent = lease_clock::now_ms();
      self->request(store_of(self), caf::infinite, renew_atom::value, st.id,
                    st.job.epoch)
        .then(
          [self, sent](bool held) {
            auto& st = self->state;
            if (st.ended)
              return;
            st.renew_failures = 0;
            if (held)
              st.lease->extend_from(sent, st.ctx->settings.lease_ttl);
            if (!held) {
              log::job_warn(job_of(self), "Lease lost; stopping work on this job");
              return end(self, action::ack, "lease lost");
            }
            self->delayed_send(self, st.ctx->settings.lease_ttl / 3, renew_atom::value);
          },
          [self](caf::error& err) {
            // The lease must not lapse over one failed request: try again
            // soon, with backoff. Until a renewal succeeds the lease clock
            // is not extended, so image actors stop uploading once it runs
            // out; the epoch fences every database write regardless.
            auto& st = self->state;
            if (st.ended)
              return;
            st.renew_failures++;
            st.ctx->metrics->retries.inc({"lease_renewal", error_class(err)});
            auto delay = renew_retry(st.ctx->settings.lease_ttl)
                           .delay(st.renew_failures, retry_random());
            log::job_warn(job_of(self), "Lease renewal failed; retrying",
                          {{"error", reason_of(err)},
                           {"attempt", std::to_string(st.renew_failures)},
                           {"delay_ms", std::to_string(delay.count())}});
            self->delayed_send(self, delay, renew_atom::value);
          });
    },
    [self](stop_atom) {
      // The node shuts down: a job not yet claimed (waiting for a recheck
      // or for another node's lease to expire) goes back to its queue now
      // instead of holding up the drain. Claimed jobs run on to the end.
      auto& st = self->state;
      if (st.waiting && !st.ended)
        end(self, action::requeue, "shutting down");
    },
    [self](abort_atom) {
      // Shutdown deadline: give the job back so it resumes elsewhere at once.
      auto& st = self->state;
      if (st.job.epoch == 0)
        return end(self, action::requeue, "shutdown");
      self->request(store_of(self), caf::infinite, release_atom::value, st.id,
                    st.job.epoch)
        .then([self](bool) { end(self, action::requeue, "shutdown"); },
              [self](caf::error&) { end(self, action::requeue, "shutdown"); });
    },
  };
}

} // namespace quel
