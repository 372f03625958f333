#include "common/byte_budget.hpp"

#include <algorithm>

namespace quel {

namespace {

int64_t reserve_within(int64_t capacity, int64_t reply_reserve) {
  return std::clamp<int64_t>(reply_reserve, 0, std::max<int64_t>(0, capacity / 4));
}

} // namespace

byte_budget::byte_budget(int64_t capacity, int64_t reply_reserve)
  : capacity_(std::max<int64_t>(0, capacity)),
    admission_limit_(capacity_ - reserve_within(capacity_, reply_reserve)) {
}

bool byte_budget::try_admit(int64_t bytes) {
  bytes = std::max<int64_t>(0, bytes);
  lock guard(mtx_);
  // Replies first: they belong to calls already paid for, and their images
  // give bytes back sooner than new ones would.
  if (!waiting_replies_.empty())
    return false;
  if (used_ + bytes > admission_limit_ && used_ != 0)
    return false;
  take_locked(bytes);
  return true;
}

void byte_budget::release(int64_t bytes) {
  std::vector<budget_waker> wakers;
  {
    lock guard(mtx_);
    used_ -= std::clamp<int64_t>(bytes, 0, used_);
    wakers = wakers_locked();
  }
  run(wakers);
}

void byte_budget::on_admission_room(std::function<void()> wake) {
  lock guard(mtx_);
  if (wake)
    admission_waker_ = std::make_shared<const std::function<void()>>(std::move(wake));
  else
    admission_waker_.reset();
}

void byte_budget::admissions_waiting(bool waiting) {
  lock guard(mtx_);
  admissions_waiting_ = waiting;
}

int64_t byte_budget::used() const {
  lock guard(mtx_);
  return used_;
}

int64_t byte_budget::peak() const {
  lock guard(mtx_);
  return peak_;
}

int64_t byte_budget::replies_waiting() const {
  lock guard(mtx_);
  return static_cast<int64_t>(waiting_replies_.size());
}

int64_t byte_budget::reply_pauses() const {
  lock guard(mtx_);
  return pauses_;
}

bool byte_budget::grow(reply_reservation* r, int64_t bytes, budget_waker wake) {
  std::vector<budget_waker> wakers;
  {
    lock guard(mtx_);
    bool fits = used_ + bytes <= admission_limit_;
    bool reserve_free = reserve_holder_ == nullptr || reserve_holder_ == r;
    if (!fits && !reserve_free) {
      if (!wake)
        return false;  // a probe: the caller asks again with less
      auto known = std::find_if(waiting_replies_.begin(), waiting_replies_.end(),
                                [r](const waiter& w) { return w.reservation == r; });
      if (known == waiting_replies_.end()) {
        waiting_replies_.push_back({r, std::move(wake)});
        ++pauses_;
      } else {
        known->wake = std::move(wake);
      }
      return false;
    }
    if (!fits)
      reserve_holder_ = r;
    take_locked(bytes);
    r->held_ += bytes;
    // The last paused reply going on lets waiting admissions try again.
    if (forget_waiter_locked(r) && waiting_replies_.empty())
      wakers = wakers_locked();
  }
  run(wakers);
  return true;
}

void byte_budget::force(reply_reservation* r, int64_t bytes) {
  lock guard(mtx_);
  take_locked(bytes);
  r->held_ += bytes;
}

void byte_budget::shrink(reply_reservation* r, int64_t bytes) {
  std::vector<budget_waker> wakers;
  {
    lock guard(mtx_);
    bytes = std::clamp<int64_t>(bytes, 0, r->held_);
    r->held_ -= bytes;
    used_ -= bytes;
    wakers = wakers_locked();
  }
  run(wakers);
}

void byte_budget::end(reply_reservation* r) {
  std::vector<budget_waker> wakers;
  {
    lock guard(mtx_);
    used_ -= r->held_;
    r->held_ = 0;
    forget_waiter_locked(r);
    if (reserve_holder_ == r)
      reserve_holder_ = nullptr;
    wakers = wakers_locked();
  }
  run(wakers);
}

void byte_budget::stop_waiting(reply_reservation* r) {
  std::vector<budget_waker> wakers;
  {
    lock guard(mtx_);
    if (forget_waiter_locked(r) && waiting_replies_.empty())
      wakers = wakers_locked();
  }
  run(wakers);
}

void byte_budget::take_locked(int64_t bytes) {
  used_ += bytes;
  peak_ = std::max(peak_, used_);
}

bool byte_budget::forget_waiter_locked(reply_reservation* r) {
  auto i = std::find_if(waiting_replies_.begin(), waiting_replies_.end(),
                        [r](const waiter& w) { return w.reservation == r; });
  if (i == waiting_replies_.end())
    return false;
  waiting_replies_.erase(i);
  return true;
}

std::vector<budget_waker> byte_budget::wakers_locked() const {
  std::vector<budget_waker> out;
  if (!waiting_replies_.empty()) {
    for (const auto& w : waiting_replies_)
      if (w.wake && std::find(out.begin(), out.end(), w.wake) == out.end())
        out.push_back(w.wake);
  } else if (admissions_waiting_ && admission_waker_) {
    out.push_back(admission_waker_);
  }
  return out;
}

void byte_budget::run(const std::vector<budget_waker>& wakers) {
  for (const auto& wake : wakers)
    (*wake)();
}

reply_reservation::reply_reservation(std::shared_ptr<byte_budget> budget)
  : budget_(std::move(budget)) {
}

reply_reservation::~reply_reservation() {
  budget_->end(this);
}

bool reply_reservation::try_grow_to(int64_t total, budget_waker wake) {
  if (total <= held_)
    return true;
  return budget_->grow(this, total - held_, std::move(wake));
}

void reply_reservation::cover(int64_t total) {
  if (total > held_)
    budget_->force(this, total - held_);
}

void reply_reservation::shrink_to(int64_t total) {
  if (total < held_)
    budget_->shrink(this, held_ - total);
}

void reply_reservation::stop_waiting() {
  budget_->stop_waiting(this);
}

} // namespace quel
