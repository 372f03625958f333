#include "actors/gemini_generate_actor.hpp"

#include <chrono>

#include <caf/expected.hpp>

#include "actors/guarded_call.hpp"
#include "adapters/gemini/gemini_reply.hpp"
#include "adapters/gemini/image_convert.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

using clock_type = std::chrono::steady_clock;

/// What a reply needs to know about the call it answers.
struct call_info {
  image_identity image;  // which image the call is for (logs)
  output_format format = output_format::webp;
  int64_t max_image_pixels = 0;
  clock_type::time_point started;
};

log::fields call_fields(const call_info& call, const gemini_outcome& o) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now()
                                                                  - call.started);
  log::fields f{{"stage", std::to_string(call.image.stage_index)},
                {"image", std::to_string(call.image.image_index)},
                {"http_status", std::to_string(o.http_status)},
                {"model_version", o.model_version},
                {"finish_reason", o.finish_reason},
                {"prompt_tokens", std::to_string(o.usage.prompt_tokens)},
                {"candidate_tokens", std::to_string(o.usage.candidate_tokens)},
                {"total_tokens", std::to_string(o.usage.total_tokens)},
                {"ms", std::to_string(ms.count())}};
  return f;
}

/// The reply for one finished transfer: the converted image or an error.
caf::expected<generated_image> on_reply(const call_info& call, const http_response& r) {
  auto o = classify_response(r);
  auto fields = call_fields(call, o);
  if (!o.ok()) {
    const auto& failure = o.failure.value();  // the classifier sets it for every non-image
    fields.emplace_back("result", to_string(o.kind));
    fields.emplace_back("retry_class", to_string(failure.kind));
    if (!o.detail.empty())
      fields.emplace_back("detail", o.detail);
    if (failure.server_delay)
      fields.emplace_back("retry_delay_ms", std::to_string(failure.server_delay->count()));
    log::job_warn(call.image.job_id.str(), "Gemini call failed: " + failure.reason, fields);
    return to_error(failure);
  }
  fields.emplace_back("image_mime", o.image_mime);
  fields.emplace_back("image_bytes", std::to_string(o.image.size()));
  log::job_info(call.image.job_id.str(), "Gemini replied with an image", fields);
  try {
    generated_image out;
    out.bytes = convert_image(o.image, call.format, call.max_image_pixels);
    out.mime_type = mime_type_of(call.format);
    out.model_version = o.model_version;
    return out;
  } catch (...) {
    auto err = failure_from_exception(std::current_exception());
    log::job_warn(call.image.job_id.str(), "Gemini image unusable: " + reason_of(err), fields);
    return err;
  }
}

} // namespace

generate_actor::behavior_type
gemini_generate_actor_impl(generate_actor::pointer self, gemini_settings settings,
                           http_engine_actor engine) {
  classify_escaped_exceptions(self);
  return {
    [self, settings = std::move(settings),
     engine](generate_atom, const generation_request& request)
      -> caf::result<generated_image> {
      if (fault::roll_failure(fault::adapter::generator))
        return make_failure(worker_errc::retryable, "injected generator fault");
      http_request call;
      try {
        call = make_gemini_request(settings, request);  // base64 of the inputs
        call.reply_bytes = request.reply_bytes;
      } catch (...) {
        auto err = failure_from_exception(std::current_exception());
        log::job_warn(request.image.job_id.str(), "Gemini request not sent: " + reason_of(err));
        return err;
      }
      call_info info{request.image, request.format, settings.max_image_pixels,
                     clock_type::now()};
      auto rp = self->make_response_promise<generated_image>();
      self->request(engine, caf::infinite, http_atom::value, std::move(call))
        .then(
          [rp, info](const http_response& r) mutable {
            auto result = on_reply(info, r);
            if (result)
              rp.deliver(std::move(*result));
            else
              rp.deliver(std::move(result.error()));
          },
          [rp, info](caf::error& err) mutable {
            // The engine actor is gone (shutdown or crash): worth a retry.
            log::job_warn(info.image.job_id.str(), "Gemini call not answered: " + reason_of(err));
            rp.deliver(make_failure(worker_errc::retryable,
                                    "model call failed: " + reason_of(err)));
          });
      return rp;
    },
  };
}

} // namespace quel
