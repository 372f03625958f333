#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace quel {

class reply_reservation;

/// What a paused reply's owner is woken with once bytes come back. Shared:
/// an engine gives the same one for all its transfers, so a release wakes
/// each engine once, not each of its paused transfers.
using budget_waker = std::shared_ptr<const std::function<void()>>;

/// The worker-wide count of image bytes in memory (worker.max_inflight_bytes),
/// shared by the two kinds of claim on it, from any thread:
///
/// - **Admissions** (the byte budget actor, for an image before it starts):
///   its inputs and request text, known up front. They may use the capacity
///   less a reply reserve, and none is let in while a reply waits.
/// - **Replies** (`reply_reservation`, grown by the HTTP engine while a model
///   reply arrives): only what has arrived is held, not the 16 MiB cap, so a
///   budget admits as many calls as their actual replies fit. A reply that
///   does not fit pauses its transfer until bytes come back.
///
/// Progress: the reserve (one reply cap) is kept from admissions, and one
/// reply at a time, the reserve's holder, may grow into it; it can always
/// finish, and its image then gives everything back. When the reserve is
/// larger than a quarter of the capacity (tiny test budgets) it is cut to a
/// quarter, and the holder may go past the capacity by at most one reply.
class byte_budget {
public:
  byte_budget(int64_t capacity, int64_t reply_reserve);

  byte_budget(const byte_budget&) = delete;
  byte_budget& operator=(const byte_budget&) = delete;

  /// Takes `bytes` for an admission if they fit under the admission limit
  /// and no reply waits; an admission larger than that limit is taken
  /// alone, when nothing is held (never refused for an operator's setting).
  bool try_admit(int64_t bytes);

  /// Gives admitted bytes back.
  void release(int64_t bytes);

  /// `wake` runs (on the releasing thread, outside the lock) after a release
  /// while admissions_waiting(true) is set and no reply waits.
  void on_admission_room(std::function<void()> wake);
  void admissions_waiting(bool waiting);

  int64_t capacity() const { return capacity_; }
  int64_t admission_limit() const { return admission_limit_; }
  int64_t used() const;
  /// The most bytes ever held at once (tests, metrics).
  int64_t peak() const;
  /// Replies now paused for want of bytes, and how often one was paused.
  int64_t replies_waiting() const;
  int64_t reply_pauses() const;

private:
  friend class reply_reservation;
  using lock = std::unique_lock<std::mutex>;

  bool grow(reply_reservation* r, int64_t bytes, budget_waker wake);
  void force(reply_reservation* r, int64_t bytes);
  void shrink(reply_reservation* r, int64_t bytes);
  void end(reply_reservation* r);
  void stop_waiting(reply_reservation* r);
  void take_locked(int64_t bytes);
  bool forget_waiter_locked(reply_reservation* r);
  /// Who to wake after bytes came back: the paused replies, or else the
  /// admission waker; called with the lock held, run after it is released.
  std::vector<budget_waker> wakers_locked() const;
  static void run(const std::vector<budget_waker>& wakers);

  const int64_t capacity_;
  const int64_t admission_limit_;
  mutable std::mutex mtx_;
  int64_t used_ = 0;
  int64_t peak_ = 0;
  int64_t pauses_ = 0;
  const reply_reservation* reserve_holder_ = nullptr;
  struct waiter {
    reply_reservation* reservation;
    budget_waker wake;
  };
  std::vector<waiter> waiting_replies_;
  bool admissions_waiting_ = false;
  budget_waker admission_waker_;
};

/// The bytes of one model reply, held from the shared budget as they arrive
/// and given back when the reservation is destroyed (the ImageActor keeps it
/// until it ends, so the reply and the image decoded from it stay counted).
/// Not thread-safe on its own: one owner at a time uses it (the engine while
/// the transfer runs, then the ImageActor), handed over through messages.
class reply_reservation {
public:
  explicit reply_reservation(std::shared_ptr<byte_budget> budget);
  ~reply_reservation();

  reply_reservation(const reply_reservation&) = delete;
  reply_reservation& operator=(const reply_reservation&) = delete;

  /// Holds `total` bytes in all if the budget has them; otherwise holds
  /// nothing more, remembers `wake` and runs it once bytes come back (then
  /// ask again). Asking again with a smaller total is allowed. Without a
  /// `wake` a refusal leaves nothing behind (a probe for a larger step).
  bool try_grow_to(int64_t total, budget_waker wake);

  /// Holds at least `total` bytes at once, over the budget if need be: for
  /// bytes already in memory (a reply from another node or a local
  /// generator), so later admissions wait for them.
  void cover(int64_t total);

  /// Gives back what is held beyond `total` (a reply that came in smaller
  /// than the step it reserved).
  void shrink_to(int64_t total);

  /// Forgets a remembered wake (its transfer ended while paused).
  void stop_waiting();

  int64_t held() const { return held_; }

private:
  friend class byte_budget;
  std::shared_ptr<byte_budget> budget_;
  int64_t held_ = 0;  // guarded by the budget's lock
};

} // namespace quel
