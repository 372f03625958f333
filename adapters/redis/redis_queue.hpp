#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "adapters/redis/queue_store.hpp"

struct redisContext;
struct redisReply;

/// The hiredis implementation of queue_store (queue_store.hpp), plus the
/// few commands only app/ and the tests use. One redis_queue per thread (a
/// hiredis context is single-threaded). No CAF.
namespace quel {

/// Where and as whom to connect (from QUEL_REDIS_URL).
struct redis_endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // secret: never logged
  std::string username;

  /// Parses redis://[user:pass@]host[:port][/db] (user and password
  /// percent-decoded, [IPv6] hosts); rediss:// is rejected (hiredis 0.14 has
  /// no TLS). Throws std::invalid_argument, never quoting the password.
  static redis_endpoint parse(const std::string& url);
};

/// Socket timeouts of one connection; values below 1 ms count as 1 ms
/// (0 would mean "block forever").
struct redis_timeouts {
  std::chrono::milliseconds connect{2000};
  /// For non-blocking commands; a blocking take raises it above its own wait.
  std::chrono::milliseconds io{10000};
  /// Added to a blocking command's wait to get its socket timeout.
  std::chrono::milliseconds blocking_margin{5000};
};

/// Owns a hiredis context (redisFree); defined in redis_queue.cpp.
struct redis_context_deleter {
  void operator()(redisContext* ctx) const noexcept;
};

/// Owns a hiredis reply (freeReplyObject); defined in redis_queue.cpp.
struct redis_reply_deleter {
  void operator()(redisReply* reply) const noexcept;
};
using redis_reply_ptr = std::unique_ptr<redisReply, redis_reply_deleter>;

/// The worker's Redis client: queues, processing lists, leases, dead letters.
/// Connects lazily; after any I/O error the connection is dropped and the
/// call throws redis_unavailable, and the next call connects again. An error
/// reply from the server throws std::runtime_error with the server's text.
class redis_queue final : public queue_store {
public:
  explicit redis_queue(redis_endpoint endpoint, redis_timeouts timeouts = {});
  ~redis_queue() override;
  redis_queue(const redis_queue&) = delete;
  redis_queue& operator=(const redis_queue&) = delete;

  // The overrides implement queue_store; each comment names the command.

  /// BLMOVE queue -> processing (RIGHT LEFT): the id is never only in this
  /// process's memory. nullopt on timeout; a timeout <= 0 does not wait
  /// (LMOVE). Throws redis_unavailable.
  std::optional<std::string> take(const std::string& queue,
                                  const std::string& processing,
                                  std::chrono::milliseconds timeout) override;

  /// Removes a finished id from the processing list (LREM 1).
  void ack(const std::string& processing, const std::string& id) override;

  /// Moves an id back from processing to the consuming end of its queue, so
  /// it is taken next (shutdown, lease handover).
  void requeue(const std::string& processing, const std::string& queue,
               const std::string& id) override;

  /// Moves every id of a processing list back to the consuming end of its
  /// queue, ahead of the ids waiting there and with the one taken first
  /// taken first again; returns how many.
  int64_t reclaim_all(const std::string& processing,
                      const std::string& queue) override;

  /// LPUSH, as producers do.
  void push(const std::string& queue, const std::string& id) override;
  /// LPUSH jobs:dead with the entry's JSON.
  void dead_letter(const dead_letter_entry& entry) override;
  /// LRANGE: index 0 is the end producers push to.
  std::vector<std::string> range(const std::string& list, int64_t start = 0,
                                 int64_t stop = -1) override;
  /// LLEN.
  int64_t length(const std::string& list) override;
  /// LREM 0 (every occurrence); true if something was removed.
  bool remove(const std::string& list, const std::string& value);
  /// True if any of `lists` contains `id` (LPOS each, one round trip).
  bool holds_any(const std::vector<std::string>& lists,
                 const std::string& id) override;

  /// Node liveness: SET key <unix-ms> PX ttl, plus SADD to the node set.
  void renew_node_lease(const std::string& node,
                        std::chrono::milliseconds ttl) override;
  /// Deletes the node's lease (a clean shutdown).
  void drop_node_lease(const std::string& node);
  /// True while the node's lease has not expired.
  bool node_alive(const std::string& node) override;
  /// The node lease's value (the time of its last renewal), nullopt if none.
  std::optional<std::string> node_lease_value(const std::string& node);
  /// Every node in the node set, sorted.
  std::vector<std::string> known_nodes() override;
  /// Removes a node from the node set (its ids were all reclaimed).
  void forget_node(const std::string& node) override;
  /// True while any processing list of `node` exists, whatever its queue
  /// (SCAN, so it never blocks the server on a large keyspace).
  bool has_processing_lists(const std::string& node) override;

  /// SISMEMBER quel:paused.
  bool paused(const std::string& queue) override;
  /// EXISTS quel:cancel:<id>.
  bool cancel_requested(const std::string& job_id) override;

  /// SADD / SREM quel:paused.
  void set_paused(const std::string& queue, bool paused);
  /// SMEMBERS quel:paused, sorted.
  std::vector<std::string> paused_queues();
  /// SET quel:cancel:<id> <unix-ms> PX ttl: kept long enough for a node that
  /// takes the job over after a crash to see it too.
  void request_cancel(const std::string& job_id, std::chrono::milliseconds ttl);
  /// DEL quel:cancel:<id> (a retried job must not be cancelled again).
  void clear_cancel(const std::string& job_id);
  /// LINDEX: the entry at `index` (-1: the consuming end), nullopt if none.
  std::optional<std::string> index(const std::string& list, int64_t index);

  /// True if the server answers PONG; false (never throws) when unreachable.
  bool ping();

  // Worker mesh (docs/DISTRIBUTED.md; defined in redis_mesh.cpp). Keys:
  // quel:mesh:addr:<node> (its host:port, expiring like a lease),
  // quel:mesh:nodes (set), quel:mesh:takeover:<node> (who took it over),
  // quel:mesh:view:<node> (hash: peer -> JSON, its view of its peers for
  // `status`, expiring like the address); a worker's view of its generator
  // nodes in redis_keys::generator_view and generator_views.

  /// Publishes this node's mesh address for `ttl` (renewed every tick).
  void advertise_mesh(const std::string& node, const std::string& address,
                      std::chrono::milliseconds ttl);
  /// Every advertised node with its address, sorted by node; nodes whose
  /// address expired are dropped from the set on the way.
  std::vector<std::pair<std::string, std::string>> mesh_nodes();
  /// The election: one atomic script that makes `self` the taker of `dead`
  /// unless someone already is, `self` was itself taken over (the other side
  /// of a split won), or `dead` left cleanly (its address is gone).
  enum class election { won, lost, self_taken_over, gone };
  election elect_taker(const std::string& dead, const std::string& self,
                       std::chrono::milliseconds ttl);
  /// Replaces this node's view of its peers (peer -> JSON text) and lets it
  /// expire after `ttl` unless written again (every tick).
  void publish_mesh_view(const std::string& node,
                         const std::map<std::string, std::string>& view,
                         std::chrono::milliseconds ttl);
  /// The view `node` last published (peer -> JSON text); empty when none.
  std::map<std::string, std::string> mesh_view(const std::string& node);
  /// After a takeover: the node's address and node lease go (so the reaper
  /// treats it as expired), the node leaves the mesh set.
  void forget_mesh_node(const std::string& node);
  /// A clean stop: the node's address goes, so peers do not take it over.
  void leave_mesh(const std::string& node);
  /// Replaces this worker's view of its generator nodes (address -> JSON
  /// text, redis_keys::generator_view) and lets it expire after `ttl`
  /// unless written again; adds the worker to redis_keys::generator_views.
  void publish_generator_view(const std::string& node,
                              const std::map<std::string, std::string>& view,
                              std::chrono::milliseconds ttl);
  /// Every worker's view of its generator nodes, by worker (sorted); workers
  /// whose view expired are dropped from the set on the way.
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> generator_views();
  /// A clean stop: this worker's view of its generator nodes goes.
  void withdraw_generator_view(const std::string& node);
  /// A node (re)starting under its id: a takeover mark of its former life
  /// must not stop it from taking over others.
  void clear_takeover_mark(const std::string& node);

  /// The fleet-wide rate limit (a GCRA in one Lua script, one round trip;
  /// adapters/redis/rate_limit.cpp): reserves the next slot of `key`,
  /// whose slots are `interval` apart on the Redis server's clock, and
  /// returns how long the caller waits before using it (0: at once).
  std::chrono::milliseconds reserve_rate_slot(const std::string& key,
                                              std::chrono::milliseconds interval);

private:
  void ensure_connected();
  void disconnect() noexcept;
  /// One command; throws on I/O errors and on error replies.
  redis_reply_ptr command(const std::vector<std::string>& args);
  /// Several commands in one round trip (MULTI/EXEC); replies in order.
  std::vector<redis_reply_ptr> pipeline(
      const std::vector<std::vector<std::string>>& commands);
  void set_socket_timeout(std::chrono::milliseconds timeout);
  [[noreturn]] void fail_io(const char* what);

  redis_endpoint endpoint_;
  redis_timeouts timeouts_;
  std::unique_ptr<redisContext, redis_context_deleter> ctx_;
};

} // namespace quel
