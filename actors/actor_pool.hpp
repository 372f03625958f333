#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/send.hpp>

namespace quel {

/// A fixed set of interchangeable detached actors (one connection or thread
/// each), picked round-robin. Copies share the counter.
template <class Handle>
class actor_pool {
public:
  actor_pool() = default;
  explicit actor_pool(std::vector<Handle> members)
    : members_(std::move(members)),
      next_(std::make_shared<std::atomic<size_t>>(0)) {
  }

  const Handle& next() const {
    return members_[next_->fetch_add(1, std::memory_order_relaxed)
                    % members_.size()];
  }

  /// The member for `key` (the same key always maps to the same member).
  const Handle& for_key(const std::string& key) const {
    return members_[std::hash<std::string>{}(key) % members_.size()];
  }

  const std::vector<Handle>& members() const { return members_; }
  bool empty() const { return members_.empty(); }

private:
  std::vector<Handle> members_;
  std::shared_ptr<std::atomic<size_t>> next_;
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
  for (auto& member : pool.members())
    caf::anon_send_exit(member, caf::exit_reason::user_shutdown);
}

} // namespace quel
