#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "adapters/redis/queue_store.hpp"
#include "domain/housekeeping_records.hpp"

/// The node's periodic Redis upkeep, as plain code on the queue_store port:
/// renew this node's lease, reap nodes whose lease expired, and report what
/// the queues hold. redis_ops_actor runs it; unit tests run it on a fake.
namespace quel {

/// One pass: renews the node lease, (at start-up) reclaims this node's own
/// leftovers, returns the ids of every other node whose lease expired to
/// their queues and forgets that node, then counts the queues and lists
/// this node's own ids. Throws what the store throws; every step is
/// idempotent, so a pass cut short by an outage is simply run again.
housekeeping_report run_housekeeping(queue_store& redis, const housekeeping_request& req);

} // namespace quel
