#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <caf/all.hpp>

#include "actors/actor_pool.hpp"
#include "common/backoff.hpp"
#include "common/log.hpp"
#include "messages/actor_types.hpp"

namespace quel {

template <class Handle>
struct pool_supervisor_state {
  actor_pool<Handle> pool;
  std::function<Handle()> spawn_one;
  std::string name;
  int quick_deaths = 0;  // deaths less than quick_window apart
  std::chrono::steady_clock::time_point last_death;
};

namespace detail {

/// Deaths closer together than this count as one streak, which backs off.
constexpr std::chrono::seconds pool_quick_window{10};

template <class Handle>
void replace_member(pool_supervisor_actor::stateful_pointer<pool_supervisor_state<Handle>> self,
                    const caf::actor_addr& dead) {
  auto& st = self->state;
  auto fresh = st.spawn_one();
  if (!st.pool.replace(dead, fresh)) {
    // Not a member (replaced already): the new actor is not needed.
    caf::anon_send_exit(fresh, caf::exit_reason::user_shutdown);
    return;
  }
  self->monitor(fresh);
  log::info("Replaced a pool actor that died", {{"pool", st.name}});
}

} // namespace detail

/// Supervises a pool of I/O actors (one connection or thread each): a member
/// that dies for any reason but a requested stop is replaced by a new one in
/// the same slot, at once, or after a growing delay when deaths come in quick
/// succession (a member that cannot even start must not spin). Requests that
/// were queued at the dead member fail with an error, which their senders
/// handle like any failed call. The supervisor does no I/O and holds no
/// state that can break, so it cannot die itself.
template <class Handle>
pool_supervisor_actor::behavior_type
pool_supervisor_impl(pool_supervisor_actor::stateful_pointer<pool_supervisor_state<Handle>> self,
                     actor_pool<Handle> pool, std::function<Handle()> spawn_one,
                     std::string name) {
  auto& st = self->state;
  st.pool = std::move(pool);
  st.spawn_one = std::move(spawn_one);
  st.name = std::move(name);
  for (auto& member : st.pool.members())
    self->monitor(member);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.reason == caf::exit_reason::user_shutdown || dm.reason == caf::exit_reason::normal)
      return;  // stopped as asked (shutdown)
    auto& st = self->state;
    auto now = std::chrono::steady_clock::now();
    st.quick_deaths = now - st.last_death < detail::pool_quick_window ? st.quick_deaths + 1 : 1;
    st.last_death = now;
    static const backoff_policy streak{std::chrono::milliseconds(100),
                                       std::chrono::milliseconds(5000), 0};
    auto delay = st.quick_deaths <= 1 ? std::chrono::milliseconds(0)
                                      : streak.ceiling(st.quick_deaths - 1);
    log::error("A pool actor died; replacing it",
               {{"pool", st.name}, {"reason", caf::to_string(dm.reason)},
                {"delay_ms", std::to_string(delay.count())}});
    if (delay.count() == 0)
      detail::replace_member(self, dm.source);
    else
      self->delayed_send(self, delay, restart_atom::value, dm.source);
  });
  return {
    [self](restart_atom, const caf::actor_addr& dead) { detail::replace_member(self, dead); },
  };
}

/// Spawns a supervisor for `pool`; `spawn_one` must capture by value what it
/// needs (it runs whenever a member is replaced, until the system stops).
template <class Handle>
pool_supervisor_actor supervise_pool(caf::actor_system& sys, const actor_pool<Handle>& pool,
                                     std::function<Handle()> spawn_one, std::string name) {
  return sys.spawn(pool_supervisor_impl<Handle>, pool, std::move(spawn_one), std::move(name));
}

/// spawn_pool under a supervisor: the pool replaces members that die.
template <class Handle, class F>
actor_pool<Handle> spawn_supervised_pool(caf::actor_system& sys, int n, std::string name,
                                         F spawn_one) {
  auto pool = spawn_pool<Handle>(n, spawn_one);
  auto supervisor = supervise_pool<Handle>(sys, pool, std::function<Handle()>(spawn_one),
                                           std::move(name));
  pool.supervised_by(caf::actor_cast<caf::strong_actor_ptr>(supervisor));
  return pool;
}

} // namespace quel
