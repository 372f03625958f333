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

/// The servers a detached actor may wait out: the name its outages are
/// logged under, its up flag in the metrics, the exception of an outage and
/// the fault a chaos drill injects.
struct postgresql_server {
  using unavailable = database_unavailable;
  static constexpr const char* name = "postgresql";
  static constexpr const char* injected = "injected database fault";
  static constexpr fault::adapter fault_point = fault::adapter::database;
  static std::atomic<bool>& up(worker_metrics& m) { return m.database_up; }
};

struct redis_server {
  using unavailable = redis_unavailable;
  static constexpr const char* name = "redis";
  static constexpr const char* injected = "injected redis fault";
  static constexpr fault::adapter fault_point = fault::adapter::redis;
  static std::atomic<bool>& up(worker_metrics& m) { return m.redis_up; }
};

/// One call of a detached actor to `Server`: waits out outages (keeping the
/// server's up flag current) and takes the injected faults of chaos drills.
template <class Server, class F>
auto server_call(worker_metrics& metrics, const std::atomic<bool>& give_up, F&& fn)
  -> decltype(fn()) {
  using unavailable = typename Server::unavailable;
  return retry_through_outage<unavailable>(
    Server::name, Server::up(metrics), give_up, [&] {
      if (fault::should_fail(Server::fault_point))
        throw unavailable(Server::injected);
      return fn();
    });
}

} // namespace quel
