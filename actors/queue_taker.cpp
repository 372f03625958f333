#include "actors/queue_taker.hpp"

#include "common/fault_injection.hpp"
#include "common/log.hpp"

namespace quel {

namespace {

using self_ptr = queue_taker_actor::stateful_pointer<queue_taker_state>;

void poll_once(self_ptr self) {
  auto& st = self->state;
  if (st.permits <= 0) {
    st.polling = false;
    return;
  }
  try {
    if (fault::should_fail(fault::adapter::redis))
      throw redis_unavailable("injected redis fault");
    // `quel-worker pause`: checked before every blocking take, so a pause
    // stops every node within one take timeout. While paused the queue is
    // looked at again at the same pace (at most twice a second).
    if (st.redis->paused(st.blank.queue)) {
      if (!st.paused)
        log::info("Queue paused; not taking ids from it", {{"queue", st.blank.queue}});
      st.paused = true;
      st.metrics->redis_up = true;
      st.outage.reset();
      self->delayed_send(self, std::min(st.timeout, std::chrono::milliseconds(500)),
                         take_atom::value, int32_t{0});
      return;
    }
    if (st.paused)
      log::info("Queue resumed; taking ids again", {{"queue", st.blank.queue}});
    st.paused = false;
    auto id = st.redis->take(st.blank.queue, st.blank.processing, st.timeout);
    st.metrics->redis_up = true;
    st.outage.reset();
    if (id) {
      fault::crash_point("after_take");
      --st.permits;
      auto ticket = st.blank;
      ticket.job_id = std::move(*id);
      self->send(st.parent, taken_atom::value, std::move(ticket));
    }
    self->send(self, take_atom::value, int32_t{0});
  } catch (const std::exception& e) {
    // Redis down or restarting: wait without spinning, then reconnect.
    st.metrics->redis_up = false;
    log::limited(log::level::warn, "redis-take-" + st.blank.queue, 10000,
                 "Redis unavailable while taking ids; retrying",
                 {{"queue", st.blank.queue}, {"error", e.what()}});
    self->delayed_send(self, st.outage.next().value(), take_atom::value, int32_t{0});
  }
}

} // namespace

queue_taker_actor::behavior_type
queue_taker_impl(queue_taker_actor::stateful_pointer<queue_taker_state> self,
                 std::shared_ptr<queue_store> redis, job_ticket blank, queue_actor parent,
                 std::chrono::milliseconds timeout,
                 std::shared_ptr<worker_metrics> metrics) {
  auto& st = self->state;
  st.redis = std::move(redis);
  st.blank = std::move(blank);
  st.parent = std::move(parent);
  st.timeout = timeout;
  st.metrics = std::move(metrics);
  return {
    // n > 0 grants permits; n == 0 is the loop's own "take the next one".
    [self](take_atom, int32_t n) {
      auto& st = self->state;
      st.permits += n;
      if (n > 0) {
        if (st.polling)
          return;
        st.polling = true;
      }
      poll_once(self);
    },
  };
}

} // namespace quel
