#include "actors/generator_router_actor.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "actors/mesh_actor.hpp"
#include "actors/mesh_node_actor.hpp"
#include "actors/mesh_transport.hpp"
#include "common/log.hpp"
#include "common/log_text.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

using self_ptr = generator_router_actor::stateful_pointer<generator_router_state>;

/// A call that failed in transport (not a model failure) this often is
/// answered with a retryable error instead of being sent on again: the
/// image actor's own retries take it from there.
constexpr int max_transport_failures = 3;

int32_t free_of(const router_node& n) {
  auto held = std::max(static_cast<int32_t>(n.in_flight.size()), n.load);
  return n.capacity - held;
}

bool any_up(const generator_router_state& st) {
  return std::any_of(st.nodes.begin(), st.nodes.end(),
                     [](const router_node& n) { return static_cast<bool>(n.handle); });
}

void note_problem(router_node& n, const std::string& what, const std::string& problem,
                  bool refused = false) {
  n.refused = refused;
  if (n.last_problem == problem)
    return;
  n.last_problem = problem;
  log::warn(what, {{"address", n.address}, {"problem", problem}});
}

void drain(self_ptr self);
void connect(self_ptr self, int index);

void finish(self_ptr self, uint64_t id) {
  self->state.calls.erase(id);
}

void run_local(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto& call = st.calls[id];
  call.node = -1;
  auto attempt = ++call.attempt;
  ++st.local_calls;
  self->request(st.local.next(), caf::infinite, generate_atom::value, call.request)
    .then(
      [self, id, attempt](generated_image& image) {
        auto i = self->state.calls.find(id);
        if (i == self->state.calls.end() || i->second.attempt != attempt)
          return;
        i->second.rp.deliver(std::move(image));
        finish(self, id);
      },
      [self, id, attempt](caf::error& err) {
        auto i = self->state.calls.find(id);
        if (i == self->state.calls.end() || i->second.attempt != attempt)
          return;
        i->second.rp.deliver(std::move(err));
        finish(self, id);
      });
}

/// Puts a call back in front of the waiting line (it was already waiting
/// longest), then places what can be placed.
void requeue(self_ptr self, uint64_t id) {
  auto& st = self->state;
  st.calls[id].node = -1;
  st.waiting.push_front(id);
}

void send_to(self_ptr self, int index, uint64_t id) {
  auto& st = self->state;
  auto& node = st.nodes[index];
  auto& call = st.calls[id];
  call.node = index;
  auto attempt = ++call.attempt;
  node.in_flight.insert(id);
  ++node.dispatched;
  self->request(node.handle, st.call_timeout, generate_atom::value, call.request)
    .then(
      [self, index, id, attempt](generated_image& image, const generator_status& status) {
        auto& st = self->state;
        auto& node = st.nodes[index];
        node.capacity = status.capacity;
        node.load = status.load;
        node.last_reply = std::chrono::system_clock::now();
        auto i = st.calls.find(id);
        if (i == st.calls.end() || i->second.attempt != attempt)
          return drain(self);  // answered elsewhere already (re-dispatched)
        node.in_flight.erase(id);
        i->second.rp.deliver(std::move(image));
        finish(self, id);
        drain(self);
      },
      [self, index, id, attempt](caf::error& err) {
        auto& st = self->state;
        auto& node = st.nodes[index];
        auto i = st.calls.find(id);
        if (i == st.calls.end() || i->second.attempt != attempt)
          return;
        node.in_flight.erase(id);
        if (err.category() == generator_busy_category) {
          // Full of other workers' calls: wait until a reply or the next
          // hello says there is room again.
          node.load = std::max(node.load, node.capacity);
          requeue(self, id);
          return drain(self);
        }
        if (err.category() == caf::atom("quel")) {
          // The model's answer (with its retry class): the image decides.
          i->second.rp.deliver(std::move(err));
          finish(self, id);
          return drain(self);
        }
        // Transport: timeout, the node's proxy gone, a broken connection.
        auto problem = self->system().render(err);
        if (++i->second.transport_failures >= max_transport_failures) {
          i->second.rp.deliver(make_failure(worker_errc::retryable,
                                            "generator node " + node.address
                                              + " failed: " + problem));
          finish(self, id);
          return drain(self);
        }
        log::warn("Model call to a generator node failed in transport; sending it again",
                  {{"address", node.address}, {"error", problem}});
        requeue(self, id);
        drain(self);
      });
}

/// Places the front call; false when it has to wait.
bool place(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto best = pick_generator_node(st.nodes);
  if (best >= 0) {
    send_to(self, best, id);
    return true;
  }
  if (!any_up(st) && st.settings.generator_fallback_local && !st.local.empty()) {
    run_local(self, id);
    return true;
  }
  if (!any_up(st) && !st.warned_no_node) {
    st.warned_no_node = true;
    log::warn(st.settings.generator_fallback_local
                ? "No generator node is up and there are no local generate actors; model calls wait"
                : "No generator node is up; model calls wait for one "
                  "(mesh.generator_fallback = local would run them here)",
              {{"generators", std::to_string(st.nodes.size())}});
  }
  return false;
}

void drain(self_ptr self) {
  auto& st = self->state;
  while (!st.waiting.empty()) {
    auto id = st.waiting.front();
    if (st.calls.count(id) == 0) {
      st.waiting.pop_front();
      continue;
    }
    st.waiting.pop_front();
    if (!place(self, id)) {
      st.waiting.push_front(id);
      return;
    }
  }
}

void lost(self_ptr self, int index, const std::string& reason) {
  auto& st = self->state;
  auto& node = st.nodes[index];
  auto moved = node.in_flight;
  log::warn("Generator node lost; its model calls go elsewhere now",
            {{"node", node.node_id}, {"address", node.address}, {"reason", reason},
             {"in_flight", std::to_string(moved.size())}});
  node.handle = generator_node_actor{};
  node.in_flight.clear();
  node.load = 0;
  node.last_problem.clear();
  node.refused = false;
  node.lost_reason = reason;
  // Oldest first, ahead of calls that never left.
  for (auto i = moved.rbegin(); i != moved.rend(); ++i)
    if (st.calls.count(*i) > 0) {
      ++node.redispatched;
      requeue(self, *i);
    }
  drain(self);
  if (!node.connecting)
    connect(self, index);
}

void greet(self_ptr self, int index, generator_node_actor handle) {
  auto& st = self->state;
  st.nodes[index].greeting = true;
  self->request(handle, st.settings.connection_timeout, mesh_hello_atom::value, st.own)
    .then(
      [self, index, handle](const mesh_hello& reply) {
        auto& st = self->state;
        auto& node = st.nodes[index];
        node.greeting = false;
        auto why = mesh_hello_refusal(st.own, reply);
        auto status = generator_status_of(reply);
        if (why.empty() && !status)
          why = "the node at " + node.address + " is no generator node (roles of its hello)";
        if (!why.empty()) {
          if (node.last_problem != why)
            log::error("Refused a generator node",
                       {{"address", node.address}, {"node", reply.node_id}, {"reason", why}});
          node.last_problem = why;
          node.refused = true;
          return;
        }
        node.capacity = status->capacity;
        node.load = status->load;
        node.last_reply = std::chrono::system_clock::now();
        if (!node.handle) {
          node.handle = handle;
          node.node_id = reply.node_id;
          node.was_up = true;
          node.last_problem.clear();
          node.refused = false;
          st.warned_no_node = false;
          self->monitor(handle);
          log::info("Generator node up", {{"node", reply.node_id}, {"address", node.address},
                                          {"capacity", std::to_string(node.capacity)},
                                          {"load", std::to_string(node.load)}});
        }
        drain(self);
      },
      [self, index](const caf::error& err) {
        auto& node = self->state.nodes[index];
        node.greeting = false;
        // A refusal (version mismatch) carries the node's reason.
        if (!node.handle)
          note_problem(node, "Generator node refused the hello", self->system().render(err),
                       true);
      });
}

void connect(self_ptr self, int index) {
  auto& st = self->state;
  auto& node = st.nodes[index];
  node.connecting = true;
  mesh_connect<generator_node_actor>(
    self, node.host, node.port, st.settings.connection_timeout * 2,
    [self, index](generator_node_actor handle) {
      self->state.nodes[index].connecting = false;
      greet(self, index, std::move(handle));
    },
    [self, index](const std::string& problem) {
      auto& node = self->state.nodes[index];
      node.connecting = false;
      note_problem(node, "Generator node unreachable; retrying", problem);
    });
}

/// Hands the view to the detached writer, one write at a time: if Redis is
/// slow, ticks skip instead of piling writes up in its mailbox.
void publish_view(self_ptr self) {
  auto& st = self->state;
  if (!st.views || st.publishing)
    return;
  st.publishing = true;
  self->request(st.views, caf::infinite, gen_view_atom::value, generator_view(st))
    .then([self](bool) { self->state.publishing = false; },
          [self](const caf::error&) { self->state.publishing = false; });
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  self->delayed_send(self, st.settings.retry_interval, gen_tick_atom::value);
  publish_view(self);
  for (int i = 0; i < static_cast<int>(st.nodes.size()); ++i) {
    auto& node = st.nodes[i];
    if (!node.handle && !node.connecting && !node.greeting)
      connect(self, i);
    else if (node.handle && !node.greeting)
      greet(self, i, node.handle);  // refreshes capacity and load
  }
}

} // namespace

std::string generator_node_state(const router_node& n) {
  if (n.handle)
    return "up";
  if (!n.last_problem.empty())
    return n.refused ? "refused" : "unreachable";
  return n.was_up ? "down" : "connecting";
}

std::map<std::string, std::string> generator_view(const generator_router_state& st) {
  using json = nlohmann::json;
  std::map<std::string, std::string> out;
  for (auto& n : st.nodes) {
    auto state = generator_node_state(n);
    auto error = !n.last_problem.empty() ? n.last_problem
                 : state == "down"      ? n.lost_reason
                                        : std::string{};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                n.last_reply.time_since_epoch()).count();
    out[n.address] = json{{"address", n.address},
                          {"node", n.node_id.empty() ? json(nullptr) : json(n.node_id)},
                          {"state", state},
                          {"error", error.empty()
                                      ? json(nullptr)
                                      : json(clip_text(error, max_upstream_chars))},
                          // Unknown (null) until the node's first hello.
                          {"capacity", n.was_up ? json(n.capacity) : json(nullptr)},
                          {"load", n.was_up ? json(n.load) : json(nullptr)},
                          {"in_flight", n.in_flight.size()},
                          {"dispatched", n.dispatched},
                          {"redispatched", n.redispatched},
                          {"last_reply_ms", ms == 0 ? json(nullptr) : json(ms)}}
                       .dump();
  }
  return out;
}

int pick_generator_node(const std::vector<router_node>& nodes) {
  int best = -1;
  for (int i = 0; i < static_cast<int>(nodes.size()); ++i) {
    auto& n = nodes[i];
    if (!n.handle || free_of(n) <= 0)
      continue;
    if (best < 0 || free_of(n) > free_of(nodes[best])
        || (free_of(n) == free_of(nodes[best])
            && n.in_flight.size() < nodes[best].in_flight.size()))
      best = i;
  }
  return best;
}

generator_router_actor::behavior_type
generator_router_impl(generator_router_actor::stateful_pointer<generator_router_state> self,
                      mesh_settings settings, mesh_hello own, actor_pool<generate_actor> local,
                      std::chrono::milliseconds call_timeout, generator_view_actor views) {
  auto& st = self->state;
  st.views = std::move(views);
  if (st.views)
    self->attach_functor([views = st.views] {
      // The writer deletes the view as it exits: a clean stop leaves none.
      caf::anon_send_exit(views, caf::exit_reason::user_shutdown);
    });
  st.settings = std::move(settings);
  st.own = std::move(own);
  st.local = std::move(local);
  st.call_timeout = call_timeout;
  for (auto& address : st.settings.generators) {
    router_node n;
    n.address = address;
    if (!split_host_port(address, n.host, n.port))
      throw std::invalid_argument("mesh.generators: \"" + address + "\" is not host:port");
    st.nodes.push_back(std::move(n));
  }
  self->set_down_handler([self](const caf::down_msg& msg) {
    auto& nodes = self->state.nodes;
    for (int i = 0; i < static_cast<int>(nodes.size()); ++i)
      if (nodes[i].handle && nodes[i].handle.address() == msg.source)
        return lost(self, i, self->system().render(msg.reason));
  });
  self->send(self, gen_tick_atom::value);
  return {
    [self](generate_atom, const generation_request& request) -> caf::result<generated_image> {
      auto& st = self->state;
      auto id = st.next_id++;
      auto& call = st.calls[id];
      call.request = request;
      call.rp = self->make_response_promise<generated_image>();
      auto rp = call.rp;
      if (!st.waiting.empty() || !place(self, id))
        st.waiting.push_back(id);
      return rp;
    },
    [self](router_atom) {
      auto& st = self->state;
      router_snapshot out;
      for (auto& n : st.nodes)
        out.nodes.push_back({n.address, n.node_id, static_cast<bool>(n.handle), n.capacity,
                             n.load, static_cast<int32_t>(n.in_flight.size()), n.dispatched,
                             n.redispatched, generator_node_state(n)});
      out.local_calls = st.local_calls;
      out.waiting = static_cast<int32_t>(st.waiting.size());
      return out;
    },
    [self](gen_tick_atom) { on_tick(self); },
  };
}

} // namespace quel
