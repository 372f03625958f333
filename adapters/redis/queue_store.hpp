#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/dead_letter.hpp"

/// Redis holds the queues (owned by producers) and this worker's own
/// bookkeeping: one processing list per (node, queue) and a lease per node.
/// queue_store is what the actors need from it; redis_queue implements it
/// with hiredis, and unit tests use an in-memory fake. No CAF here.
namespace quel {

/// Redis could not be reached; the caller waits and retries.
class redis_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Names of the worker's own keys (documented in README.md):
/// quel:processing:<node>:<queue>, quel:node:<node>, quel:nodes,
/// quel:paused, quel:cancel:<job_id>.
struct redis_keys {
  static std::string processing(const std::string& node, const std::string& queue);
  static std::string node_lease(const std::string& node);
  static std::string nodes();        // set of nodes that ever took ids
  static std::string dead_letter();  // jobs:dead (contract)
  /// Set of queue names no node takes from (`quel-worker pause`).
  static std::string paused();
  /// Present while a cancel of the job is requested (`quel-worker cancel`).
  static std::string cancel(const std::string& job_id);
  /// A worker's view of its generator nodes for `status` (hash: node
  /// address -> JSON), quel:mesh:generators:<node>; expires with
  /// worker.lease_ttl unless rewritten, deleted on a clean stop.
  static std::string generator_view(const std::string& node);
  /// Set of workers that wrote such a view, quel:mesh:generator_views
  /// (renewed with each view; readers drop members whose view expired).
  static std::string generator_views();
};

/// The port to the queues, processing lists and node leases. One instance
/// per thread: the implementation owns a single-threaded connection, so
/// every detached actor gets its own. Every call may throw
/// redis_unavailable (wait and retry) or std::runtime_error (the server
/// refused the command).
class queue_store {
public:
  virtual ~queue_store() = default;

  /// Moves the id at the consuming (right) end of `queue` to the left of
  /// `processing`, so the id is never only in this process's memory; waits
  /// up to `timeout` for one (not at all when <= 0). nullopt when none came.
  virtual std::optional<std::string> take(const std::string& queue,
                                          const std::string& processing,
                                          std::chrono::milliseconds timeout) = 0;

  /// Removes one occurrence of a finished id from the processing list.
  virtual void ack(const std::string& processing, const std::string& id) = 0;

  /// Moves an id back from processing to the consuming end of its queue, so
  /// it is taken next (shutdown, lease handover), in one transaction.
  virtual void requeue(const std::string& processing, const std::string& queue,
                       const std::string& id) = 0;

  /// Moves every id of a processing list back to the consuming end of its
  /// queue, ahead of the ids waiting there and with the one taken first
  /// taken first again; returns how many.
  virtual int64_t reclaim_all(const std::string& processing,
                              const std::string& queue) = 0;

  /// Adds an id at the producers' (left) end, as producers do.
  virtual void push(const std::string& queue, const std::string& id) = 0;
  /// Adds the entry's JSON to jobs:dead.
  virtual void dead_letter(const dead_letter_entry& entry) = 0;
  /// The list from `start` to `stop` (inclusive, negative counts from the
  /// end); index 0 is the end producers push to.
  virtual std::vector<std::string> range(const std::string& list, int64_t start = 0,
                                         int64_t stop = -1) = 0;
  /// Number of entries in a list (0 when it does not exist).
  virtual int64_t length(const std::string& list) = 0;
  /// True if any of `lists` contains `id`.
  virtual bool holds_any(const std::vector<std::string>& lists,
                         const std::string& id) = 0;

  /// Node liveness: the node's lease lives for `ttl` from now, and the node
  /// joins the set of known nodes.
  virtual void renew_node_lease(const std::string& node,
                                std::chrono::milliseconds ttl) = 0;
  /// True while the node's lease has not expired.
  virtual bool node_alive(const std::string& node) = 0;
  /// Every node in the node set, sorted.
  virtual std::vector<std::string> known_nodes() = 0;
  /// Removes a node from the node set (its ids were all reclaimed).
  virtual void forget_node(const std::string& node) = 0;
  /// True while any processing list of `node` exists, whatever its queue
  /// (lists of queues a worker does not serve are left to those that do).
  virtual bool has_processing_lists(const std::string& node) = 0;

  /// True while `queue` is paused fleet-wide (`quel-worker pause`): its
  /// takers stop taking until it is resumed.
  virtual bool paused(const std::string& queue) = 0;
  /// True while an operator's cancel of the job is pending
  /// (`quel-worker cancel`): the node running it stops at the next image.
  virtual bool cancel_requested(const std::string& job_id) = 0;
};

} // namespace quel
