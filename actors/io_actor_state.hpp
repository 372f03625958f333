#pragma once

#include <atomic>
#include <memory>

#include "actors/worker_metrics.hpp"

namespace quel {

/// The state of a detached I/O actor (guarded_runner in guarded_call.hpp):
/// its one connection to the server, the metrics its outages show in and
/// the hard-shutdown flag that ends its waiting out an outage.
template <class Port>
struct io_actor_state {
  std::shared_ptr<Port> port;
  std::shared_ptr<worker_metrics> metrics;
  std::shared_ptr<std::atomic<bool>> give_up;
};

} // namespace quel
