#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

namespace quel {

/// A fixed number of interchangeable actors (detached ones with a connection
/// or a thread each), picked round-robin or by key. Copies share the members,
/// so when a pool supervisor replaces a member that died (see
/// pool_supervisor.hpp) every holder of the pool sees the replacement.
template <class Handle>
class actor_pool {
public:
  actor_pool() = default;
  explicit actor_pool(std::vector<Handle> members)
    : state_(std::make_shared<shared_state>()) {
    state_->members = std::move(members);
  }

  /// The next member, round-robin.
  Handle next() const {
    std::lock_guard<std::mutex> guard{state_->mutex};
    auto& m = state_->members;
    return m[state_->next.fetch_add(1, std::memory_order_relaxed) % m.size()];
  }

  /// The member for `key` (the same key always maps to the same slot).
  Handle for_key(const std::string& key) const {
    std::lock_guard<std::mutex> guard{state_->mutex};
    auto& m = state_->members;
    return m[std::hash<std::string>{}(key) % m.size()];
  }

  std::vector<Handle> members() const {
    if (!state_)
      return {};
    std::lock_guard<std::mutex> guard{state_->mutex};
    return state_->members;
  }

  bool empty() const { return members().empty(); }

  /// Puts `replacement` in the slot of the member with address `old`;
  /// false (and nothing changes) when no member has that address.
  bool replace(const caf::actor_addr& old, Handle replacement) {
    std::lock_guard<std::mutex> guard{state_->mutex};
    for (auto& member : state_->members)
      if (member.address() == old) {
        member = std::move(replacement);
        return true;
      }
    return false;
  }

  /// Keeps the pool's supervisor alive as long as the pool, and lets
  /// stop_pool stop it too.
  void supervised_by(caf::strong_actor_ptr supervisor) {
    std::lock_guard<std::mutex> guard{state_->mutex};
    state_->supervisor = std::move(supervisor);
  }

  caf::strong_actor_ptr supervisor() const {
    if (!state_)
      return {};  // an empty pool (e.g. no storage actors on a generator node)
    std::lock_guard<std::mutex> guard{state_->mutex};
    return state_->supervisor;
  }

private:
  struct shared_state {
    std::mutex mutex;
    std::vector<Handle> members;
    std::atomic<size_t> next{0};
    caf::strong_actor_ptr supervisor;
  };
  std::shared_ptr<shared_state> state_;
};

/// A pool of `n` actors made by `spawn_one()`.
template <class Handle, class F>
actor_pool<Handle> spawn_pool(int n, F&& spawn_one) {
  std::vector<Handle> members;
  for (int i = 0; i < n; ++i)
    members.push_back(spawn_one());
  return actor_pool<Handle>{std::move(members)};
}

/// Asks every member to exit (detached members must be stopped explicitly,
/// or ~actor_system waits for them forever).
template <class Handle>
void stop_pool(const actor_pool<Handle>& pool) {
  if (auto supervisor = pool.supervisor())
    caf::anon_send_exit(caf::actor_cast<caf::actor>(supervisor),
                        caf::exit_reason::user_shutdown);
  for (auto& member : pool.members())
    caf::anon_send_exit(member, caf::exit_reason::user_shutdown);
}

} // namespace quel
