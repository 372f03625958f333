#pragma once

#include <chrono>
#include <optional>

#include <caf/actor_system.hpp>

/// The end of a worker process: how long it waits for its last actors once
/// every id is settled, so that a detached actor stuck in a long blocking
/// call (a model call, a slow disk) cannot hold the process past its
/// shutdown deadline (RELIABILITY.md, "Graceful shutdown").
namespace quel {

using steady_time = std::chrono::steady_clock::time_point;

/// Until when to wait for the actors still running after the QueueActor has
/// settled every id at `settled`. `stop_requested`: when SIGTERM/SIGINT came
/// (nullopt for `--drain`). The wait covers the shutdown deadline (nothing is
/// cut short before it), a taker's last `BLMOVE` (`take_timeout`, so that no
/// id lands in a processing list after it was emptied) and then `grace`; it
/// never ends sooner than `grace` after `settled`.
steady_time actors_wait_limit(std::optional<steady_time> stop_requested, steady_time settled,
                              std::chrono::milliseconds shutdown_deadline,
                              std::chrono::milliseconds take_timeout,
                              std::chrono::milliseconds grace);

/// Waits until every actor of `sys` has terminated or `limit` has passed;
/// true when they all terminated. On false some still run (a detached actor
/// inside a blocking call, whose requester is gone): `sys` must then never
/// be destroyed, because ~actor_system would wait for them; the caller hands
/// the node's ids back and ends the process with std::_Exit.
bool await_actors_until(caf::actor_system& sys, steady_time limit);

} // namespace quel
