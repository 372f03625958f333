#include "actors/heartbeat_actor.hpp"

#include <algorithm>

namespace quel {

namespace {

void beat(worker_metrics& m) {
  m.heartbeat_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count();
}

} // namespace

std::chrono::milliseconds heartbeat_interval(std::chrono::milliseconds stall_timeout) {
  return std::clamp(stall_timeout / 4, std::chrono::milliseconds(10),
                    std::chrono::milliseconds(1000));
}

heartbeat_actor::behavior_type heartbeat_actor_impl(heartbeat_actor::pointer self,
                                                    std::shared_ptr<worker_metrics> metrics,
                                                    std::chrono::milliseconds interval) {
  beat(*metrics);
  // Stopped on purpose (shutdown): no heartbeat, not a stall. Attached, so
  // it runs after the last beat has been handled.
  self->attach_functor([metrics] { metrics->heartbeat_ns = 0; });
  self->delayed_send(self, interval, tick_atom::value);
  return {
    [self, metrics, interval](tick_atom) {
      beat(*metrics);
      self->delayed_send(self, interval, tick_atom::value);
    },
  };
}

} // namespace quel
