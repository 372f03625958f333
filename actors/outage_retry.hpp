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

/// One PostgreSQL call of a detached actor: waits out outages (keeping
/// database_up current) and takes the injected database faults of chaos
/// drills.
template <class F>
auto database_call(worker_metrics& metrics, const std::atomic<bool>& give_up, F&& fn)
  -> decltype(fn()) {
  return retry_through_outage<database_unavailable>(
    "postgresql", metrics.database_up, give_up, [&] {
      if (fault::should_fail(fault::adapter::database))
        throw database_unavailable("injected database fault");
      return fn();
    });
}

/// The same for one Redis call.
template <class F>
auto redis_call(worker_metrics& metrics, const std::atomic<bool>& give_up, F&& fn)
  -> decltype(fn()) {
  return retry_through_outage<redis_unavailable>(
    "redis", metrics.redis_up, give_up, [&] {
      if (fault::should_fail(fault::adapter::redis))
        throw redis_unavailable("injected redis fault");
      return fn();
    });
}

} // namespace quel
