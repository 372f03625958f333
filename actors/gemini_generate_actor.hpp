#pragma once

#include "adapters/gemini/gemini_codec.hpp"
#include "messages/actor_types.hpp"
#include "messages/http_messages.hpp"

namespace quel {

/// Calls Gemini through the HTTP engine actor (spawn it detached: decoding
/// and converting the reply image is CPU work). Each actor serves many
/// requests at once through response promises; every reply is mapped to
/// one generated_image or one error of the retry class rule 17/18 assigns:
/// refusals and other 4xx permanent, a reply without an image retry_once,
/// 429/5xx/timeouts retryable (with the server's RetryInfo delay).
generate_actor::behavior_type
gemini_generate_actor_impl(generate_actor::pointer self, gemini_settings settings,
                           http_engine_actor engine);

} // namespace quel
