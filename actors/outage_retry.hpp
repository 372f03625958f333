#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "actors/worker_metrics.hpp"
#include "adapters/postgres/job_store.hpp"
#include "adapters/redis/queue_store.hpp"
#include "common/backoff.hpp"
#include "common/fault_injection.hpp"
#include "common/log.hpp"
#include "messages/errors.hpp"

namespace quel {

/// Runs `fn` on a detached actor's thread, waiting out an outage of the
/// server behind it: on `Unavailable` it sleeps for the next wait of
/// outage_backoff (jittered, at most 5 s; logging at most every 10 s) and
/// tries again, until `give_up` is set (hard shutdown), when the exception
/// is rethrown. A database outage is never a reason to fail or dead-letter a
/// job (CONTRACT.md rule 4).
template <class Unavailable, class F>
auto retry_through_outage(const char* what, std::atomic<bool>& up,
                          const std::atomic<bool>& give_up, F&& fn)
  -> decltype(fn()) {
  backoff_sequence waits(outage_backoff(), retry_random());
  for (;;) {
    try {
      auto result = fn();
      if (!up.exchange(true))
        log::info(std::string{what} + " is reachable");
      return result;
    } catch (const Unavailable& e) {
      up = false;
      if (give_up)
        throw;
      log::limited(log::level::warn, std::string{what} + "-down", 10000,
                   std::string{what} + " unavailable, retrying",
                   {{"error", e.what()}});
      std::this_thread::sleep_for(waits.next().value());  // never used up
    }
  }
}

/// A server a detached actor may wait out: the name its outages are logged
/// under, the exception of an outage, the fault a chaos drill injects and
/// the server's up flag in the metrics.
template <class Unavailable>
struct outage_server {
  const char* name;
  const char* injected;  // the message of an injected fault
  fault::adapter fault_point;
  std::atomic<bool> worker_metrics::*up;
};

inline const outage_server<database_unavailable> postgresql_server{
  "postgresql", "injected database fault", fault::adapter::database,
  &worker_metrics::database_up};
inline const outage_server<redis_unavailable> redis_server{
  "redis", "injected redis fault", fault::adapter::redis, &worker_metrics::redis_up};

/// One call of a detached actor to `server`: waits out outages (keeping the
/// server's up flag current) and takes the injected faults of chaos drills.
template <class Unavailable, class F>
auto server_call(const outage_server<Unavailable>& server, worker_metrics& metrics,
                 const std::atomic<bool>& give_up, F&& fn) -> decltype(fn()) {
  return retry_through_outage<Unavailable>(
    server.name, metrics.*server.up, give_up, [&] {
      if (fault::should_fail(server.fault_point))
        throw Unavailable(server.injected);
      return fn();
    });
}

} // namespace quel
