#pragma once

#include <chrono>
#include <memory>

#include <caf/all.hpp>

#include "actors/worker_metrics.hpp"
#include "messages/atoms.hpp"

namespace quel {

using heartbeat_actor = caf::typed_actor<caf::reacts_to<tick_atom>>;

/// Writes the time into metrics.heartbeat_ns every `interval`. It must be
/// spawned on the shared scheduler (not detached): its beat is then a
/// message that needs a free scheduler thread, so when every thread is
/// stuck (a blocking call where none belongs, a busy loop) the beat stops
/// and /healthz reports the stall.
heartbeat_actor::behavior_type heartbeat_actor_impl(heartbeat_actor::pointer self,
                                                    std::shared_ptr<worker_metrics> metrics,
                                                    std::chrono::milliseconds interval);

/// The beat interval for a stall bound: a few beats per bound, at most 1 s.
std::chrono::milliseconds heartbeat_interval(std::chrono::milliseconds stall_timeout);

} // namespace quel
