#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/actor_pool.hpp"
#include "actors/mesh_settings.hpp"
#include "messages/generator_messages.hpp"

/// The worker's side of generator nodes (docs/DISTRIBUTED.md): a
/// generate_actor that the model gate forwards every call to (after the
/// rate limit, so that limit still counts each call once). Cooperative.
///
/// - It connects to every address of mesh.generators (and again after a
///   node is lost, every mesh.retry_interval), checks the node's interface
///   and protocol version (hello), and monitors it.
/// - Each call goes to the node with the most free capacity: its capacity
///   minus the larger of what this worker has in flight there and the load
///   the node last reported (in every reply and in the hello each tick).
/// - No node up: with mesh.generator_fallback = local the call runs on the
///   local generate actors; otherwise it waits for a node. Nodes up but
///   full: it waits for room (a node answers or a tick refreshes its load).
/// - A node lost (down_msg: killed, or no heartbeat within
///   mesh.connection_timeout) is treated like a crashed image actor: its
///   calls in flight are sent elsewhere at once, not after a timeout. A late
///   reply for such a call is ignored (each call is answered once); if both
///   ran, the image ledger and commit fencing keep the image and its charge
///   single.
namespace quel {

struct router_node {
  std::string address;
  std::string host;
  uint16_t port = 0;
  generator_node_actor handle;   // set while connected and greeted
  std::string node_id;
  bool connecting = false;
  bool greeting = false;
  int32_t capacity = 0;
  int32_t load = 0;
  std::set<uint64_t> in_flight;
  int64_t dispatched = 0;
  int64_t redispatched = 0;
  std::string last_problem;      // logged once until it changes
  bool refused = false;          // last_problem is a refused hello, not a dead link
  bool was_up = false;           // greeted at least once
  std::string lost_reason;       // why it was last lost
  /// Its last reply (hello or image), for `status`; epoch 0: never.
  std::chrono::system_clock::time_point last_reply{};
};

struct router_call {
  generation_request request;
  caf::typed_response_promise<generated_image> rp;
  int node = -1;                 // index of the node it is at; -1: none
  uint64_t attempt = 0;          // bumped at each dispatch: stale replies are ignored
  int transport_failures = 0;
};

struct generator_router_state {
  mesh_settings settings;
  mesh_hello own;
  actor_pool<generate_actor> local;
  std::chrono::milliseconds call_timeout{0};
  std::vector<router_node> nodes;
  std::map<uint64_t, router_call> calls;
  std::deque<uint64_t> waiting;
  uint64_t next_id = 1;
  int64_t local_calls = 0;
  bool warned_no_node = false;
  /// Writes the view below to Redis each tick (null: nobody asked).
  generator_view_actor views;
  bool publishing = false;       // a write is in flight: never queue a second
};

/// `local`: the worker's own generate actors (the fallback). `call_timeout`
/// bounds one remote call as a backstop only (loss is noticed by the
/// monitor); make it longer than generator.timeout. `views`, when set
/// (null in tests of the routing alone), gets generator_view() every
/// mesh.retry_interval and is ended with the router.
generator_router_actor::behavior_type
generator_router_impl(generator_router_actor::stateful_pointer<generator_router_state> self,
                      mesh_settings settings, mesh_hello own, actor_pool<generate_actor> local,
                      std::chrono::milliseconds call_timeout,
                      generator_view_actor views);

/// How `status` names a node's state: `up` (connected, greeted, monitored),
/// `connecting` (never greeted yet, no failure yet), `down` (lost; the
/// reconnect has not failed yet), `unreachable` (the last connect failed:
/// nothing listening, a TLS refusal, a timeout), `refused` (its hello was
/// refused: another protocol version, or no generator node).
std::string generator_node_state(const router_node& n);

/// The router's view for `status`: address -> JSON text with `address`,
/// `node` (null until greeted), `state`, `error`, `capacity`, `load` (as
/// the node last reported them; null until greeted), `in_flight` (this worker's calls there),
/// `dispatched`, `redispatched`, `last_reply_ms` (Unix ms; null: never).
std::map<std::string, std::string> generator_view(const generator_router_state& st);

/// Of `nodes`, the index of the one with the most free capacity for one
/// more call (ties: fewer calls of this worker there, then the first);
/// -1 when none is up with room.
int pick_generator_node(const std::vector<router_node>& nodes);

} // namespace quel
