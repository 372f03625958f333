#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct redisContext;

/// Redis holds the queues (owned by producers) and this worker's own
/// bookkeeping: one processing list per (node, queue) and a lease per node.
/// One redis_queue per thread (a hiredis context is single-threaded). No CAF.
namespace quel {

/// Redis could not be reached; the caller waits and retries.
class redis_unavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct redis_endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // secret: never logged
  std::string username;

  /// Parses redis://[user:pass@]host:port[/db]; throws std::invalid_argument.
  static redis_endpoint parse(const std::string& url);
};

/// Names of the worker's own keys (documented in README.md).
struct redis_keys {
  static std::string processing(const std::string& node, const std::string& queue);
  static std::string node_lease(const std::string& node);
  static std::string nodes();        // set of nodes that ever took ids
  static std::string dead_letter();  // jobs:dead (contract)
};

struct dead_letter_entry {
  std::string id;
  std::string queue;
  std::string reason;
  std::string at;  // ISO-8601 UTC

  std::string to_json() const;
};

class redis_queue {
public:
  explicit redis_queue(redis_endpoint endpoint);
  ~redis_queue();
  redis_queue(const redis_queue&) = delete;
  redis_queue& operator=(const redis_queue&) = delete;

  /// BLMOVE queue -> processing (RIGHT LEFT): the id is never only in this
  /// process's memory. nullopt on timeout. Throws redis_unavailable.
  std::optional<std::string> take(const std::string& queue,
                                  const std::string& processing,
                                  std::chrono::milliseconds timeout);

  /// Removes a finished id from the processing list (LREM).
  void ack(const std::string& processing, const std::string& id);

  /// Moves an id back from processing to the consuming end of its queue, so
  /// it is taken next (shutdown, lease handover).
  void requeue(const std::string& processing, const std::string& queue,
               const std::string& id);

  /// Moves every id of a processing list back to its queue; returns how many.
  int64_t reclaim_all(const std::string& processing, const std::string& queue);

  void push(const std::string& queue, const std::string& id);  // LPUSH
  void dead_letter(const dead_letter_entry& entry);
  std::vector<std::string> range(const std::string& list, int64_t start = 0,
                                 int64_t stop = -1);
  int64_t length(const std::string& list);
  bool remove(const std::string& list, const std::string& value);  // LREM 0

  /// Node liveness: SET key PX ttl, plus SADD to the node set.
  void renew_node_lease(const std::string& node, std::chrono::milliseconds ttl);
  void drop_node_lease(const std::string& node);
  bool node_alive(const std::string& node);
  std::vector<std::string> known_nodes();
  void forget_node(const std::string& node);

  bool ping();

private:
  void ensure_connected();
  void* command(const std::vector<std::string>& args);  // redisReply*, owned by caller

  redis_endpoint endpoint_;
  redisContext* ctx_ = nullptr;
};

} // namespace quel
