#pragma once

#include <chrono>
#include <memory>

#include "adapters/http/http_engine.hpp"
#include "messages/http_messages.hpp"

namespace quel {

/// State of the engine actor: the engine and whether the loop is turning.
struct http_engine_state {
  std::unique_ptr<http_engine> engine;
  bool polling = false;
  // How long one turn may wait in curl for socket activity; requests that
  // arrive meanwhile wait at most this long before they are started.
  std::chrono::milliseconds turn{5};
};

/// Owns one http_engine and drives it from its own thread (spawn it
/// detached): each request is submitted at once and answered from the
/// engine's completion callback through a response promise. While transfers
/// are in flight the actor sends itself a poll message per turn of the curl
/// loop, so new requests are served between turns; when nothing is in
/// flight it sleeps in its mailbox (no busy loop).
http_engine_actor::behavior_type
http_engine_actor_impl(http_engine_actor::stateful_pointer<http_engine_state> self,
                       http_engine_options options);

} // namespace quel
