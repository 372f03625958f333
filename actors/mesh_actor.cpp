#include "actors/mesh_actor.hpp"

#include <caf/io/middleman_actor.hpp>

#include <charconv>
#include <set>

#include <nlohmann/json.hpp>

#include "actors/mesh_node_actor.hpp"
#include "common/log.hpp"
#include "common/log_text.hpp"

namespace quel {

bool split_host_port(const std::string& text, std::string& host, uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto p = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || value < 1
      || value > 65535)
    return false;
  port = static_cast<uint16_t>(value);
  return !host.empty();
}

namespace {

using self_ptr = mesh_actor::stateful_pointer<mesh_state>;

int64_t ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now() - t).count();
}

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// Kept for `status` as "down" for a while after it went.
void remember_departed(mesh_state& st, const std::string& node, const mesh_peer& peer) {
  if (peer.ever_up)
    st.departed[node] = {peer.address, peer.last_seen, std::chrono::steady_clock::now()};
}

void take_over(self_ptr self, const std::string& node) {
  auto& peer = self->state.peers[node];
  if (peer.taking_over)
    return;
  peer.taking_over = true;
  // No timeout: the registry answers after its Redis and PostgreSQL calls,
  // which time out on their own.
  self->request(self->state.registry, caf::infinite, mesh_take_atom::value, node)
    .then(
      [self, node](const std::string& outcome) {
        auto i = self->state.peers.find(node);
        auto lost_ms = i == self->state.peers.end() ? 0 : ms_since(i->second.lost_at);
        if (outcome == "self") {
          log::warn("This node was itself taken over by a peer (a split); its jobs "
                    "there are fenced and it stands down for this peer",
                    {{"peer", node}});
          self->state.was_taken_over = true;
        } else if (outcome == "gone") {
          log::info("Mesh peer left cleanly", {{"peer", node}});
        } else if (outcome == "lost") {
          log::info("Another node takes over the lost mesh peer", {{"peer", node}});
        } else {
          log::info("Mesh peer taken over",
                    {{"peer", node}, {"outcome", outcome},
                     {"ms_since_lost", std::to_string(lost_ms)}});
        }
        // Forgotten either way: if it comes back it advertises itself again
        // and is greeted as a new peer.
        if (i != self->state.peers.end()) {
          remember_departed(self->state, node, i->second);
          self->state.peers.erase(i);
        }
      },
      [self, node](const caf::error& err) {
        // Redis unreachable: tried again at the next tick while still down.
        if (auto i = self->state.peers.find(node); i != self->state.peers.end())
          i->second.taking_over = false;
        log::warn("Mesh takeover attempt failed; retrying",
                  {{"peer", node}, {"error", self->system().render(err)}});
      });
}

/// A greeted peer (this node dialled it) or one that dialled this node and
/// said hello: from now on monitored.
void peer_up(self_ptr self, const std::string& node, mesh_node_actor handle,
             const std::string& address) {
  auto& peer = self->state.peers[node];
  if (peer.handle == handle)
    return;  // the same connection greeted again
  bool back = peer.down;
  if (peer.address.empty())
    peer.address = address;  // greeted before the next tick listed it
  peer.handle = handle;
  peer.down = false;
  peer.ever_up = true;
  peer.connect_error.clear();
  peer.last_seen = std::chrono::system_clock::now();
  self->state.departed.erase(node);
  self->monitor(handle);
  if (back)
    log::info("Mesh peer back within the grace",
              {{"peer", node}, {"ms_since_lost", std::to_string(ms_since(peer.lost_at))}});
  else
    log::info("Mesh peer up", {{"peer", node}, {"address", peer.address}});
  if (self->state.was_taken_over) {
    self->state.was_taken_over = false;
    self->send(self->state.registry, mesh_clear_atom::value);
  }
}

void greet(self_ptr self, const std::string& node, mesh_node_actor handle) {
  self->request(handle, self->state.settings.connection_timeout, mesh_hello_atom::value,
                self->state.own)
    .then(
      [self, node, handle](const mesh_hello& reply) {
        auto& peer = self->state.peers[node];
        peer.connecting = false;
        auto why = mesh_hello_refusal(self->state.own, reply);
        if (why.empty() && reply.node_id != node)
          why = "the address of " + node + " is now served by " + reply.node_id;
        if (!why.empty()) {
          log::error("Refused a mesh peer",
                     {{"peer", node}, {"address", peer.address}, {"reason", why}});
          return;
        }
        peer_up(self, node, handle, reply.address);
      },
      [self, node](const caf::error& err) {
        if (auto i = self->state.peers.find(node); i != self->state.peers.end())
          i->second.connecting = false;
        log::error("Mesh peer refused the hello",
                   {{"peer", node}, {"error", self->system().render(err)}});
      });
}

void connect(self_ptr self, const std::string& node) {
  auto& peer = self->state.peers[node];
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(peer.address, host, port))
    return;
  // Not before the node actor announced itself: the peer needs its handle.
  if (!self->state.own.node)
    return;
  peer.connecting = true;
  // The middleman (or caf::openssl's manager, with TLS) connects in its own
  // actor; a timeout keeps a peer behind a partition from staying
  // "connecting" for good.
  self->request(self->state.connector, self->state.settings.connection_timeout * 2,
                caf::connect_atom::value, host, port)
    .then(
      [self, node](const caf::node_id&, caf::strong_actor_ptr& ptr,
                   const std::set<std::string>&) {
        if (!ptr) {
          if (auto i = self->state.peers.find(node); i != self->state.peers.end())
            i->second.connecting = false;
          return;
        }
        greet(self, node, caf::actor_cast<mesh_node_actor>(std::move(ptr)));
      },
      [self, node](const caf::error& err) {
        // Not there (yet): tried again at the next tick. Logged when the
        // reason changes, not at every retry: with TLS this is where a peer
        // whose certificate is not trusted (or a plain peer) shows up.
        auto i = self->state.peers.find(node);
        if (i == self->state.peers.end())
          return;
        auto& peer = i->second;
        peer.connecting = false;
        auto text = self->system().render(err);
        if (text != peer.connect_error)
          log::warn("Cannot connect to mesh peer",
                    {{"peer", node}, {"address", peer.address}, {"error", text},
                     {"transport", self->state.settings.tls() ? "mutual TLS" : "plain"}});
        peer.connect_error = text;
      });
}

void on_tick(self_ptr self) {
  self->delayed_send(self, self->state.settings.retry_interval, mesh_tick_atom::value);
  // One request at a time: while Redis hangs, the registry blocks for its
  // socket timeouts, and queued requests would pile up behind it.
  if (self->state.listing)
    return;
  self->state.listing = true;
  auto now = std::chrono::system_clock::now();
  for (auto& [node, peer] : self->state.peers)
    if (peer.handle)
      peer.last_seen = now;  // no down_msg yet: the heartbeats still arrive
  for (auto i = self->state.departed.begin(); i != self->state.departed.end();)
    i = std::chrono::steady_clock::now() - i->second.since > mesh_departed_keep
          ? self->state.departed.erase(i) : std::next(i);
  self->request(self->state.registry, caf::infinite, mesh_peers_atom::value,
                mesh_view(self->state))
    .then(
      [self](const std::map<std::string, std::string>& nodes) {
        auto& st = self->state;
        st.listing = false;
        if (st.registry_down) {
          st.registry_down = false;
          log::info("Mesh registry reachable again");
        }
        for (auto& [node, address] : nodes) {
          if (node == st.own.node_id)
            continue;
          auto& peer = st.peers[node];
          if (peer.address != address && !peer.handle)
            peer.address = address;
        }
        for (auto i = st.peers.begin(); i != st.peers.end();) {
          auto& [node, peer] = *i;
          bool advertised = nodes.count(node) > 0;
          if (!advertised && !peer.handle && !peer.taking_over && !peer.connecting) {
            remember_departed(st, node, peer);
            i = st.peers.erase(i);  // left, or taken over by someone else
            continue;
          }
          if (!peer.handle && !peer.connecting && !peer.taking_over
              && mesh_dials(st.own.node_id, node))
            connect(self, node);
          if (peer.down && !peer.taking_over && ms_since(peer.lost_at) >= st.settings.grace.count())
            take_over(self, node);
          ++i;
        }
      },
      [self](const caf::error& err) {
        self->state.listing = false;
        // Once per outage: the tick keeps trying every retry interval.
        if (!self->state.registry_down)
          log::warn("Mesh registry unavailable (Redis); peers are still watched, "
                    "takeovers wait for it",
                    {{"error", self->system().render(err)}});
        self->state.registry_down = true;
      });
}

} // namespace

std::map<std::string, std::string> mesh_view(const mesh_state& st) {
  using json = nlohmann::json;
  std::map<std::string, std::string> out;
  auto seen = [](std::chrono::system_clock::time_point t) {
    return t.time_since_epoch().count() == 0 ? json(nullptr) : json(unix_ms(t));
  };
  for (auto& [node, d] : st.departed)
    out[node] = json{{"address", d.address}, {"state", "down"},
                     {"last_seen_ms", seen(d.last_seen)}, {"load", nullptr},
                     {"error", nullptr}}.dump();
  for (auto& [node, peer] : st.peers) {
    std::string state = peer.handle                ? "up"
                        : peer.down                  ? "suspected"
                        : !peer.connect_error.empty() ? "unreachable"
                                                      : "connecting";
    if (!peer.handle && !peer.down && st.departed.count(node))
      continue;  // taken over, advertised again but not yet back: still down
    out[node] = json{{"address", peer.address}, {"state", state},
                     {"last_seen_ms", seen(peer.last_seen)}, {"load", nullptr},
                     {"error", peer.connect_error.empty()
                                 ? json(nullptr)
                                 : json(clip_text(peer.connect_error, max_upstream_chars))}}
                  .dump();
  }
  return out;
}

mesh_actor::behavior_type mesh_impl(mesh_actor::stateful_pointer<mesh_state> self,
                                    mesh_settings settings, mesh_hello own,
                                    mesh_registry_actor registry,
                                    caf::io::middleman_actor connector) {
  self->state.connector = std::move(connector);
  self->state.settings = settings;
  self->state.own = std::move(own);
  self->state.registry = std::move(registry);
  self->set_down_handler([self](const caf::down_msg& msg) {
    for (auto& [node, peer] : self->state.peers) {
      if (!peer.handle || peer.handle.address() != msg.source)
        continue;
      peer.handle = mesh_node_actor{};
      peer.down = true;
      peer.lost_at = std::chrono::steady_clock::now();
      peer.last_seen = std::chrono::system_clock::now();
      ++peer.generation;
      log::warn("Mesh peer lost", {{"peer", node},
                                   {"reason", self->system().render(msg.reason)}});
      self->delayed_send(self, self->state.settings.grace, mesh_check_atom::value, node,
                         peer.generation);
      // Try to get it back within the grace at once (or, when the peer is
      // the one that dials, wait for its hello).
      if (!peer.connecting && mesh_dials(self->state.own.node_id, node))
        connect(self, node);
      return;
    }
  });
  self->send(self, mesh_tick_atom::value);
  return {
    [self](mesh_tick_atom) { on_tick(self); },
    [self](mesh_inbound_atom, const mesh_hello& hello) {
      // This node's own node actor announcing itself: its handle goes into
      // every hello from now on (peers that this node dials monitor it).
      if (hello.node_id == self->state.own.node_id) {
        self->state.own.node = hello.node;
        return;
      }
      // A peer's, checked by the node actor (protocol, ids) before it got here.
      if (hello.node)
        peer_up(self, hello.node_id, caf::actor_cast<mesh_node_actor>(hello.node),
                hello.address);
    },
    [self](mesh_check_atom, const std::string& node, uint64_t generation) {
      auto i = self->state.peers.find(node);
      if (i == self->state.peers.end() || !i->second.down || i->second.generation != generation)
        return;  // back, or already handled
      take_over(self, node);
    },
  };
}

} // namespace quel
