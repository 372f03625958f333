#include "actors/image_actor.hpp"

#include <utility>

#include "actors/guarded_call.hpp"
#include "actors/metric_labels.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "domain/object_key.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

using self_ptr = image_actor::pointer;

// The steps share the task and context through this bundle; each step is a
// request with a value and an error continuation.
struct attempt {
  image_task task;
  image_context_ptr ctx;
  stage_actor stage;
  std::string key;
  std::string mime;
  blob waiting_upload;  // stored once the lease is known to be held again
  /// The image's bytes in the worker's byte budget: the model reply as it
  /// arrives, then the image made from it, until this actor ends.
  std::shared_ptr<reply_reservation> held_bytes;

  const image_identity& image() const { return task.image; }
  const std::string& job() const { return task.image.job_id.str(); }
};

using attempt_ptr = std::shared_ptr<attempt>;

/// Counts `size` bytes of this image in the byte budget at once (bytes that
/// are in memory already: a reply from a generator node or the local
/// generator, an image kept or reused from storage).
void hold_in_budget(const attempt_ptr& a, size_t size) {
  if (!a->ctx->reply_budget)
    return;
  if (!a->held_bytes)
    a->held_bytes = std::make_shared<reply_reservation>(a->ctx->reply_budget);
  a->held_bytes->cover(static_cast<int64_t>(size));
}

void observe_storage(const attempt_ptr& a, const char* operation, const char* outcome,
                     std::chrono::steady_clock::time_point sent) {
  if (a->ctx->metrics)
    a->ctx->metrics->storage_call_duration.observe({operation, outcome}, seconds_since(sent));
}

// The credits stay held: the stage holds once for all its images and
// releases the holds of the images it gives up (stage_actor.hpp).
void fail(self_ptr self, const attempt_ptr&, caf::error err) {
  self->quit(std::move(err));
}

void commit(self_ptr self, const attempt_ptr& a, blob bytes) {
  image_commit c;
  c.image = a->image();
  c.object_key = a->key;
  c.file_name = a->key.substr(a->key.rfind('/') + 1);
  c.mime_type = a->mime;
  c.size_bytes = static_cast<int64_t>(bytes.size());
  c.attempts = a->task.attempt;
  self->request(a->ctx->ledger, caf::infinite, commit_atom::value, c)
    .then(
      [self, a, bytes](const commit_result& r) {
        fault::crash_point("after_commit");
        using outcome = commit_result::outcome;
        if (r.result == outcome::committed && a->image().org_id && a->ctx->metrics)
          a->ctx->metrics->credits_charged.inc({a->task.module},
                                               static_cast<double>(a->image().cost));
        if (r.result == outcome::insufficient_credits)
          return fail(self, a, make_failure(worker_errc::credits_exhausted,
                                            "credits ran out"));
        if (r.result == outcome::lease_lost)
          return fail(self, a, make_failure(worker_errc::lease_lost,
                                            "lease lost to another worker"));
        log::job_info(a->job(), "Attach record created: ID=" + std::to_string(r.attach_id));
        if (r.result == outcome::committed)
          log::job_info(a->job(), "Updating job progress: "
                                    + std::to_string(r.completed_images) + "/"
                                    + std::to_string(r.total_images) + " completed");
        made_image made{a->image(), r.attach_id, a->key, bytes};
        self->send(a->stage, made_atom::value, std::move(made));
        self->quit();
      },
      [self, a](caf::error& err) { fail(self, a, std::move(err)); });
}

void store(self_ptr self, const attempt_ptr& a, blob bytes) {
  if (a->task.lease && !a->task.lease->valid()) {
    // The lease may have passed to another worker while this process was
    // stalled (or PostgreSQL is down and it cannot be renewed): an upload
    // now could overwrite the new owner's object. Wait for the supervisor's
    // next renewal; if the lease is lost, the supervisor ends the job and
    // this actor goes down with its stage.
    log::limited(log::level::warn, "lease-wait-" + a->job(), 10000,
                 "Upload waits: the job's lease is not known to be held",
                 {{"job", a->job()}});
    a->waiting_upload = std::move(bytes);
    self->delayed_send(self, std::chrono::milliseconds(250), run_atom::value);
    return;
  }
  auto sent = std::chrono::steady_clock::now();
  self->request(a->ctx->storers.next(), caf::infinite, store_atom::value, a->key,
                bytes, a->mime)
    .then(
      [self, a, bytes, sent](int64_t) {
        observe_storage(a, "put", "ok", sent);
        fault::crash_point("after_upload");
        commit(self, a, bytes);
      },
      [self, a, bytes, sent](caf::error& err) {
        observe_storage(a, "put", error_class(err), sent);
        // The model was paid for this image: keep it for the next attempt.
        self->send(a->stage, keep_atom::value,
                   static_cast<int32_t>(a->image().image_index), bytes);
        fail(self, a, std::move(err));
      });
}

void generate(self_ptr self, const attempt_ptr& a) {
  auto& t = a->task;
  auto fields = log::fields{{"stage", std::to_string(t.image.stage_index)},
                            {"image", std::to_string(t.image.image_index)}};
  if (!t.generated.empty()) {
    log::job_info(a->job(), "Uploading the image an earlier attempt generated", fields);
    hold_in_budget(a, t.generated.size());
    return store(self, a, t.generated);
  }
  generation_request req;
  req.image = t.image;
  req.prompt = t.prompt;
  req.inputs = t.inputs;
  req.aspect_ratio = t.aspect_ratio;
  req.format = a->ctx->format;
  if (a->ctx->reply_budget) {
    a->held_bytes = std::make_shared<reply_reservation>(a->ctx->reply_budget);
    req.reply_bytes = a->held_bytes;
  }
  log::job_info(a->job(), "Calling Gemini API", fields);
  self->request(a->ctx->generators.next(), caf::infinite, generate_atom::value,
                std::move(req))
    .then(
      [self, a](generated_image& image) {
        fault::crash_point("after_generate");
        hold_in_budget(a, image.bytes.size());
        store(self, a, std::move(image.bytes));
      },
      [self, a](caf::error& err) { fail(self, a, std::move(err)); });
}

// After a crash between upload and commit the object is already stored
// under its deterministic key: commit it instead of paying the model again.
void reuse_or_generate(self_ptr self, const attempt_ptr& a) {
  auto fetcher = a->ctx->fetchers.next();
  auto sent = std::chrono::steady_clock::now();
  self->request(fetcher, caf::infinite, exists_atom::value, a->key)
    .then(
      [self, a, fetcher, sent](bool exists) {
        observe_storage(a, "exists", "ok", sent);
        if (!exists)
          return generate(self, a);
        self->request(fetcher, caf::infinite, fetch_atom::value, a->key,
                      int64_t{1} << 40)
          .then(
            [self, a](blob& bytes) {
              hold_in_budget(a, bytes.size());
              log::job_info(a->job(), "Reusing stored image: " + a->key);
              commit(self, a, std::move(bytes));
            },
            [self, a](caf::error&) { generate(self, a); });
      },
      [self, a](caf::error&) { generate(self, a); });
}

} // namespace

image_actor::behavior_type image_actor_impl(image_actor::pointer self,
                                            image_task task,
                                            image_context_ptr ctx,
                                            stage_actor stage) {
  auto a = std::make_shared<attempt>();
  a->task = std::move(task);
  a->ctx = std::move(ctx);
  a->stage = std::move(stage);
  a->mime = mime_type_of(a->ctx->format);
  a->key = output_key(a->job(), a->image().stage_index, a->image().image_index,
                      extension_of(a->ctx->format));
  classify_escaped_exceptions(self);
  // However the actor ends, the image's bytes go back to the budget then,
  // not whenever the last continuation holding `a` is dropped.
  self->attach_functor([a] { a->held_bytes.reset(); });
  // The stage has held this image's credits before spawning it.
  if (a->task.resumed)
    reuse_or_generate(self, a);
  else
    generate(self, a);
  // An image actor outliving its stage (killed with its job) would go on
  // calling the model for nobody.
  self->monitor(a->stage);
  self->set_down_handler([self](caf::down_msg&) {
    self->quit(caf::exit_reason::user_shutdown);
  });
  return {
    [self, a](run_atom) {
      // The attempt starts on spawn; run_atom re-tries a waiting upload.
      if (!a->waiting_upload.empty())
        store(self, a, std::exchange(a->waiting_upload, blob{}));
    },
  };
}

} // namespace quel
