#pragma once

// An in-memory queue_store for unit tests: Redis lists as deques (front is
// index 0, the end producers push to), node leases on a clock the test moves
// by hand, and a switch that makes every call fail as in an outage. It
// follows redis_queue's command semantics (see redis_queue.cpp), so code
// tested on it behaves the same against Redis.

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/redis/queue_store.hpp"

namespace quel::test {

class fake_queue_store : public queue_store {
public:
  using list = std::deque<std::string>;

  std::map<std::string, list> lists;
  std::vector<dead_letter_entry> dead_letters;  // also pushed onto jobs:dead
  std::map<std::string, std::chrono::milliseconds> lease_expiry;  // by node
  std::set<std::string> nodes;
  std::chrono::milliseconds now{0};  // the lease clock
  bool down = false;                 // every call throws redis_unavailable
  int takes = 0;                     // take() calls, empty ones included

  /// Moves the lease clock on.
  void advance(std::chrono::milliseconds by) { now += by; }

  /// The list's contents, index 0 first (empty when it does not exist).
  list at(const std::string& key) const {
    auto i = lists.find(key);
    return i == lists.end() ? list{} : i->second;
  }

  std::optional<std::string> take(const std::string& queue, const std::string& processing,
                                  std::chrono::milliseconds) override {
    check();
    ++takes;
    auto& q = lists[queue];
    if (q.empty())
      return std::nullopt;  // never blocks: a test cannot wait
    auto id = q.back();
    q.pop_back();
    lists[processing].push_front(id);
    return id;
  }

  void ack(const std::string& processing, const std::string& id) override {
    check();
    remove_first(lists[processing], id);
  }

  void requeue(const std::string& processing, const std::string& queue,
               const std::string& id) override {
    check();
    remove_first(lists[processing], id);
    lists[queue].push_back(id);
  }

  int64_t reclaim_all(const std::string& processing, const std::string& queue) override {
    check();
    auto& from = lists[processing];
    int64_t moved = 0;
    while (!from.empty()) {  // LMOVE processing queue LEFT RIGHT, repeated
      lists[queue].push_back(from.front());
      from.pop_front();
      ++moved;
    }
    return moved;
  }

  void push(const std::string& queue, const std::string& id) override {
    check();
    lists[queue].push_front(id);
  }

  void dead_letter(const dead_letter_entry& entry) override {
    check();
    dead_letters.push_back(entry);
    lists[redis_keys::dead_letter()].push_front(entry.to_json());
  }

  std::vector<std::string> range(const std::string& key, int64_t start,
                                 int64_t stop) override {
    check();
    auto l = at(key);
    auto n = static_cast<int64_t>(l.size());
    if (start < 0)
      start = std::max<int64_t>(n + start, 0);
    if (stop < 0)
      stop = n + stop;
    stop = std::min(stop, n - 1);
    std::vector<std::string> out;
    for (auto i = start; i <= stop; ++i)
      out.push_back(l[static_cast<size_t>(i)]);
    return out;
  }

  int64_t length(const std::string& key) override {
    check();
    return static_cast<int64_t>(at(key).size());
  }

  bool holds_any(const std::vector<std::string>& keys, const std::string& id) override {
    check();
    for (auto& key : keys) {
      auto l = at(key);
      if (std::find(l.begin(), l.end(), id) != l.end())
        return true;
    }
    return false;
  }

  void renew_node_lease(const std::string& node, std::chrono::milliseconds ttl) override {
    check();
    lease_expiry[node] = now + std::max(ttl, std::chrono::milliseconds(1));
    nodes.insert(node);
  }

  std::set<std::string> paused_queues;    // quel:paused
  std::set<std::string> cancelled_jobs;   // quel:cancel:<id> keys present

  bool paused(const std::string& queue) override {
    check();
    return paused_queues.count(queue) > 0;
  }

  bool cancel_requested(const std::string& job_id) override {
    check();
    return cancelled_jobs.count(job_id) > 0;
  }

  bool node_alive(const std::string& node) override {
    check();
    auto i = lease_expiry.find(node);
    return i != lease_expiry.end() && now < i->second;
  }

  std::vector<std::string> known_nodes() override {
    check();
    return {nodes.begin(), nodes.end()};  // a std::set is sorted
  }

  void forget_node(const std::string& node) override {
    check();
    nodes.erase(node);
  }

  bool has_processing_lists(const std::string& node) override {
    check();
    auto prefix = "quel:processing:" + node + ":";
    for (auto& [key, entries] : lists)
      if (key.rfind(prefix, 0) == 0 && !entries.empty())
        return true;
    return false;
  }

private:
  void check() const {
    if (down)
      throw redis_unavailable("fake Redis is down");
  }

  static void remove_first(list& l, const std::string& id) {
    auto i = std::find(l.begin(), l.end(), id);  // LREM 1 starts at the head
    if (i != l.end())
      l.erase(i);
  }
};

} // namespace quel::test
