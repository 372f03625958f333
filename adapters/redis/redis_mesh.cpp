#include "adapters/redis/redis_queue.hpp"

#include <algorithm>
#include <stdexcept>

#include <hiredis/hiredis.h>

/// redis_queue's mesh commands (docs/DISTRIBUTED.md): where each node's mesh
/// endpoint listens, and the election of one taker per dead node.
namespace quel {

namespace {

const std::string mesh_nodes_key = "quel:mesh:nodes";

std::string addr_key(const std::string& node) {
  return "quel:mesh:addr:" + node;
}

std::string view_key(const std::string& node) {
  return "quel:mesh:view:" + node;
}

std::string takeover_key(const std::string& node) {
  return "quel:mesh:takeover:" + node;
}

// KEYS: takeover mark of the dead node, of the caller, the dead node's
// address. ARGV: the caller, the mark's lifetime in ms. Atomic (a script), so
// of two survivors only one wins, and of the two sides of a split that both
// still reach Redis only the first acts: the other finds itself taken over.
const char* elect_script =
  "if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end "
  "if redis.call('EXISTS', KEYS[3]) == 0 then return 3 end "
  "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end "
  "return 0";

int64_t int_reply(const redisReply* r) {
  if (r->type != REDIS_REPLY_INTEGER)
    throw std::runtime_error("Redis: expected an integer reply");
  return r->integer;
}

} // namespace

void redis_queue::advertise_mesh(const std::string& node, const std::string& address,
                                 std::chrono::milliseconds ttl) {
  auto ttl_ms = std::max<int64_t>(ttl.count(), 1);
  pipeline({{"SET", addr_key(node), address, "PX", std::to_string(ttl_ms)},
            {"SADD", mesh_nodes_key, node}});
}

std::vector<std::pair<std::string, std::string>> redis_queue::mesh_nodes() {
  auto set = command({"SMEMBERS", mesh_nodes_key});
  std::vector<std::string> nodes;
  for (size_t i = 0; i < set->elements; ++i)
    nodes.emplace_back(set->element[i]->str, set->element[i]->len);
  std::sort(nodes.begin(), nodes.end());
  std::vector<std::pair<std::string, std::string>> out;
  if (nodes.empty())
    return out;
  std::vector<std::string> mget{"MGET"};
  for (auto& n : nodes)
    mget.push_back(addr_key(n));
  auto addrs = command(mget);
  for (size_t i = 0; i < nodes.size() && i < addrs->elements; ++i) {
    auto* a = addrs->element[i];
    if (a->type == REDIS_REPLY_STRING)
      out.emplace_back(nodes[i], std::string(a->str, a->len));
    else
      command({"SREM", mesh_nodes_key, nodes[i]});  // its address expired
  }
  return out;
}

redis_queue::election redis_queue::elect_taker(const std::string& dead,
                                               const std::string& self,
                                               std::chrono::milliseconds ttl) {
  auto ttl_ms = std::max<int64_t>(ttl.count(), 1);
  auto r = command({"EVAL", elect_script, "3", takeover_key(dead), takeover_key(self),
                    addr_key(dead), self, std::to_string(ttl_ms)});
  switch (int_reply(r.get())) {
    case 1: return election::won;
    case 2: return election::self_taken_over;
    case 3: return election::gone;
    default: return election::lost;
  }
}

void redis_queue::publish_mesh_view(const std::string& node,
                                    const std::map<std::string, std::string>& view,
                                    std::chrono::milliseconds ttl) {
  auto ttl_ms = std::max<int64_t>(ttl.count(), 1);
  // In one transaction, so `status` never reads a half-written view; the
  // whole hash is replaced, so peers that went drop out of it.
  std::vector<std::string> hset{"HSET", view_key(node)};
  for (auto& [peer, entry] : view) {
    hset.push_back(peer);
    hset.push_back(entry);
  }
  std::vector<std::vector<std::string>> cmds{{"MULTI"}, {"DEL", view_key(node)}};
  if (!view.empty()) {
    cmds.push_back(std::move(hset));
    cmds.push_back({"PEXPIRE", view_key(node), std::to_string(ttl_ms)});
  }
  cmds.push_back({"EXEC"});
  pipeline(cmds);
}

std::map<std::string, std::string> redis_queue::mesh_view(const std::string& node) {
  auto r = command({"HGETALL", view_key(node)});
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < r->elements; i += 2)
    out.emplace(std::string(r->element[i]->str, r->element[i]->len),
                std::string(r->element[i + 1]->str, r->element[i + 1]->len));
  return out;
}

void redis_queue::publish_generator_view(const std::string& node,
                                         const std::map<std::string, std::string>& view,
                                         std::chrono::milliseconds ttl) {
  auto ttl_ms = std::to_string(std::max<int64_t>(ttl.count(), 1));
  auto key = redis_keys::generator_view(node);
  // Replaced whole in one transaction, like the mesh view. The set of
  // writers expires with the last writer's view, so nothing outlives them.
  std::vector<std::vector<std::string>> cmds{{"MULTI"}, {"DEL", key}};
  if (!view.empty()) {
    std::vector<std::string> hset{"HSET", key};
    for (auto& [address, entry] : view) {
      hset.push_back(address);
      hset.push_back(entry);
    }
    cmds.push_back(std::move(hset));
    cmds.push_back({"PEXPIRE", key, ttl_ms});
    cmds.push_back({"SADD", redis_keys::generator_views(), node});
    cmds.push_back({"PEXPIRE", redis_keys::generator_views(), ttl_ms});
  }
  cmds.push_back({"EXEC"});
  pipeline(cmds);
}

std::vector<std::pair<std::string, std::map<std::string, std::string>>>
redis_queue::generator_views() {
  auto set = command({"SMEMBERS", redis_keys::generator_views()});
  std::vector<std::string> nodes;
  for (size_t i = 0; i < set->elements; ++i)
    nodes.emplace_back(set->element[i]->str, set->element[i]->len);
  std::sort(nodes.begin(), nodes.end());
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> out;
  for (auto& node : nodes) {
    auto r = command({"HGETALL", redis_keys::generator_view(node)});
    std::map<std::string, std::string> view;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
      view.emplace(std::string(r->element[i]->str, r->element[i]->len),
                   std::string(r->element[i + 1]->str, r->element[i + 1]->len));
    if (view.empty())
      command({"SREM", redis_keys::generator_views(), node});  // its view expired
    else
      out.emplace_back(node, std::move(view));
  }
  return out;
}

void redis_queue::withdraw_generator_view(const std::string& node) {
  pipeline({{"DEL", redis_keys::generator_view(node)},
            {"SREM", redis_keys::generator_views(), node}});
}

void redis_queue::forget_mesh_node(const std::string& node) {
  pipeline({{"DEL", addr_key(node)},
            {"DEL", view_key(node)},
            {"SREM", mesh_nodes_key, node},
            {"DEL", redis_keys::node_lease(node)}});
}

void redis_queue::leave_mesh(const std::string& node) {
  pipeline({{"DEL", addr_key(node)}, {"DEL", view_key(node)},
            {"SREM", mesh_nodes_key, node}});
}

void redis_queue::clear_takeover_mark(const std::string& node) {
  command({"DEL", takeover_key(node)});
}

} // namespace quel
