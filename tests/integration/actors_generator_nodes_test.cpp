// Generator nodes over real CAF connections on loopback (docs/DISTRIBUTED.md):
// the worker's router and the node actors live in separate actor systems of
// this process, each with its own middleman (so every message is serialised
// and sent over TCP), and a real `quel-worker serve-generator` child process
// is SIGKILLed for the loss of a node.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <catch2/catch.hpp>

#include "actors/generator_node_actor.hpp"
#include "actors/generator_router_actor.hpp"
#include "actors/mesh_transport.hpp"
#include "messages/errors.hpp"
#include "tests/support/captured_stderr.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/process_env.hpp"

using namespace quel;
using namespace std::chrono_literals;

namespace {

using release_atom_t = caf::atom_constant<caf::atom("release")>;

constexpr auto heartbeat = 250ms;
constexpr auto conn_timeout = 1500ms;
constexpr auto retry = 200ms;

/// An actor system with CAF's middleman and the mesh's types, as every
/// node has (configure_mesh_transport).
struct net_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  net_system() {
    mesh_settings plain;
    plain.heartbeat_interval = heartbeat;
    plain.connection_timeout = conn_timeout;
    configure_mesh_transport(cfg, plain);
    cfg.set("scheduler.max-threads", size_t{2});
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

/// A fake model on a node: answers at once with a summary of the request in
/// model_version (so the test sees every field arrive), fails when asked
/// ("fail-permanent", "fail-once"), or holds "hold..." calls until
/// `release`. Counts calls in `calls`.
caf::behavior fake_model(caf::event_based_actor* self, std::shared_ptr<std::atomic<int>> calls,
                         std::string name) {
  using held_call = std::pair<caf::response_promise, generated_image>;
  auto held = std::make_shared<std::vector<held_call>>();
  return {
    [=](generate_atom, const generation_request& r) {
      ++*calls;
      auto rp = self->make_response_promise();
      if (r.prompt == "fail-permanent") {
        rp.deliver(make_failure(worker_errc::permanent, "the model refused: bad input", 1500ms));
        return rp;
      }
      if (r.prompt == "fail-once") {
        rp.deliver(make_failure(worker_errc::retry_once, "no image in the reply"));
        return rp;
      }
      generated_image out;
      std::string s = name + "|" + r.image.job_id.str() + "|" + std::to_string(r.image.epoch)
                      + "|" + std::to_string(r.image.stage_index) + "|"
                      + std::to_string(r.image.image_index) + "|"
                      + (r.image.org_id ? r.image.org_id->str() : "-") + "|"
                      + std::to_string(r.image.cost) + "|" + r.prompt + "|"
                      + r.aspect_ratio.value_or("-") + "|"
                      + std::to_string(static_cast<int>(r.format));
      for (auto& in : r.inputs)
        s += "|" + in.category + ":" + in.description + ":" + in.mime_type + ":"
             + std::to_string(in.bytes.size());
      out.model_version = s;
      out.mime_type = "image/png";
      out.bytes = blob{r.inputs.empty() ? std::string{"img"} : r.inputs[0].bytes.bytes()};
      if (r.prompt.rfind("hold", 0) == 0)
        held->emplace_back(rp, std::move(out));
      else
        rp.deliver(std::move(out));
      return rp;
    },
    [=](release_atom_t) {
      for (auto& [rp, image] : *held)
        rp.deliver(std::move(image));
      held->clear();
    },
  };
}

/// A port nothing listens on right now.
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// A generator node in its own actor system: the real node actor over a
/// fake model, published on 127.0.0.1:port.
struct fake_node {
  net_system net;
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  caf::actor model;
  generator_node_actor node;
  uint16_t port = 0;

  fake_node(const std::string& id, int32_t capacity, uint16_t wanted = 0,
            uint32_t protocol = mesh_protocol_version) {
    model = net.sys->spawn(fake_model, calls, id);
    mesh_hello own;
    own.protocol = protocol;
    own.node_id = id;
    node = net.sys->spawn(generator_node_impl, own,
                          actor_pool<generate_actor>({caf::actor_cast<generate_actor>(model)}),
                          capacity);
    auto p = mesh_publish(node, "127.0.0.1", wanted);
    REQUIRE(p);
    port = *p;
  }
  ~fake_node() {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(model, caf::exit_reason::user_shutdown);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  void release() { caf::anon_send(model, release_atom_t::value); }
};

/// Replies the worker side got, by call index.
struct results {
  std::mutex m;
  std::vector<std::string> ok;       // model_version of each image
  std::vector<caf::error> errors;
  int answers = 0;
  int count() {
    std::lock_guard<std::mutex> g{m};
    return answers;
  }
};

/// The worker side: a router (and, for the fallback, a fake local model).
struct worker_side {
  net_system net;
  std::shared_ptr<std::atomic<int>> local_calls = std::make_shared<std::atomic<int>>(0);
  caf::actor local_model;
  generator_router_actor router;
  std::shared_ptr<results> got = std::make_shared<results>();

  worker_side(std::vector<std::string> generators, bool fallback_local) {
    local_model = net.sys->spawn(fake_model, local_calls, std::string{"local"});
    mesh_settings m;
    m.heartbeat_interval = heartbeat;
    m.connection_timeout = conn_timeout;
    m.retry_interval = retry;
    m.generators = std::move(generators);
    m.generator_fallback_local = fallback_local;
    mesh_hello own;
    own.node_id = "worker-under-test";
    own.roles = {"worker"};
    router = net.sys->spawn(generator_router_impl, m, own,
                            actor_pool<generate_actor>(
                              {caf::actor_cast<generate_actor>(local_model)}),
                            std::chrono::milliseconds(30000), generator_view_actor{});
  }
  ~worker_side() {
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(local_model, caf::exit_reason::user_shutdown);
  }

  /// Sends one call through the router (as the model gate does), without
  /// waiting; its answer lands in `got`.
  void call(generation_request r) {
    auto got_ = got;
    auto target = caf::actor_cast<generate_actor>(router);
    net.sys->spawn([target, r, got_](caf::event_based_actor* self) {
      self->request(target, caf::infinite, generate_atom::value, r)
        .then(
          [got_](generated_image& image) {
            std::lock_guard<std::mutex> g{got_->m};
            got_->ok.push_back(image.model_version);
            ++got_->answers;
          },
          [got_](caf::error& err) {
            std::lock_guard<std::mutex> g{got_->m};
            got_->errors.push_back(err);
            ++got_->answers;
          });
    });
  }

  router_snapshot snapshot() {
    caf::scoped_actor self{*net.sys};
    router_snapshot out;
    self->request(router, 5s, router_atom::value)
      .receive([&](router_snapshot& s) { out = std::move(s); },
               [&](caf::error& e) { FAIL("snapshot: " << net.sys->render(e)); });
    return out;
  }

  int up_nodes() {
    int n = 0;
    for (auto& v : snapshot().nodes)
      n += v.up ? 1 : 0;
    return n;
  }
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

generation_request request_named(const std::string& prompt, int image = 0) {
  generation_request r;
  r.image.job_id = ids::job{"job-" + prompt};
  r.image.epoch = 7;
  r.image.stage_index = 1;
  r.image.image_index = image;
  r.prompt = prompt;
  return r;
}

} // namespace

TEST_CASE("a generation request, its image and the model's errors cross hosts intact",
          "[generator_nodes]") {
  fake_node node{"gen-a", 2};
  worker_side worker{{node.address()}, false};
  REQUIRE(eventually([&] { return worker.up_nodes() == 1; }));

  generation_request r;
  r.image.job_id = ids::job{"3f6c0a4e-job"};
  r.image.epoch = 42;
  r.image.stage_index = 2;
  r.image.image_index = 3;
  r.image.org_id = ids::org{"org-9"};
  r.image.cost = 5;
  r.prompt = "a red coat, studio light";
  r.aspect_ratio = "3:4";
  r.format = output_format::jpeg;
  std::string big(3 * 1024 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<char>(i * 31 % 251);
  r.inputs.push_back({"model", "the person", "image/png", blob{big}});
  r.inputs.push_back({"top", "a coat", "image/webp", blob{std::string{"tiny"}}});

  caf::scoped_actor self{*worker.net.sys};
  auto target = caf::actor_cast<generate_actor>(worker.router);
  self->request(target, 10s, generate_atom::value, r)
    .receive(
      [&](generated_image& image) {
        CHECK(image.model_version
              == "gen-a|3f6c0a4e-job|42|2|3|org-9|5|a red coat, studio light|3:4|2"
                 "|model:the person:image/png:3145728|top:a coat:image/webp:4");
        CHECK(image.bytes.bytes() == big);  // 3 MiB there and back, byte for byte
        CHECK(image.mime_type == "image/png");
      },
      [&](caf::error& e) { FAIL("generate: " << worker.net.sys->render(e)); });

  // No organisation and no aspect ratio arrive as none, not as empty text.
  auto bare = request_named("bare");
  self->request(target, 10s, generate_atom::value, bare)
    .receive(
      [&](generated_image& image) {
        CHECK(image.model_version == "gen-a|job-bare|7|1|0|-|0|bare|-|0");
      },
             [&](caf::error& e) { FAIL("generate: " << worker.net.sys->render(e)); });

  // A model failure keeps its category, code, reason and server delay.
  self->request(target, 10s, generate_atom::value, request_named("fail-permanent"))
    .receive([&](generated_image&) { FAIL("expected an error"); },
             [&](caf::error& e) {
               CHECK(has_code(e, worker_errc::permanent));
               CHECK(retry_class_of(e) == retry_class::permanent);
               CHECK(reason_of(e) == "the model refused: bad input");
               REQUIRE(retry_hint_of(e));
               CHECK(retry_hint_of(e)->count() == 1500);
             });
  self->request(target, 10s, generate_atom::value, request_named("fail-once"))
    .receive([&](generated_image&) { FAIL("expected an error"); },
             [&](caf::error& e) {
               CHECK(has_code(e, worker_errc::retry_once));
               CHECK(retry_class_of(e) == retry_class::retry_once);
               CHECK(reason_of(e) == "no image in the reply");
               CHECK_FALSE(retry_hint_of(e));
             });
  auto snap = worker.snapshot();
  REQUIRE(snap.nodes.size() == 1);
  CHECK(snap.nodes[0].node_id == "gen-a");
  CHECK(snap.nodes[0].capacity == 2);
  CHECK(snap.nodes[0].dispatched == 4);
  CHECK(*node.calls == 4);
}

TEST_CASE("each call goes to the generator node with the most free capacity",
          "[generator_nodes]") {
  fake_node small{"gen-small", 1};
  fake_node large{"gen-large", 3};
  worker_side worker{{small.address(), large.address()}, false};
  REQUIRE(eventually([&] { return worker.up_nodes() == 2; }));

  for (int i = 0; i < 4; ++i)
    worker.call(request_named("hold", i));
  // Free 1 and 3: the large node takes calls until both have one left, then
  // they share: 3 on the large node, 1 on the small one.
  REQUIRE(eventually([&] { return *small.calls + *large.calls == 4; }));
  CHECK(*large.calls == 3);
  CHECK(*small.calls == 1);

  // Both full: the fifth call waits in the router (bounded), no node gets it.
  worker.call(request_named("hold", 4));
  REQUIRE(eventually([&] { return worker.snapshot().waiting == 1; }));
  std::this_thread::sleep_for(300ms);
  CHECK(*small.calls + *large.calls == 4);
  CHECK(worker.got->count() == 0);

  // The large node answers its three: room again, the waiting call goes there.
  large.release();
  REQUIRE(eventually([&] { return *large.calls == 4; }));
  large.release();
  small.release();
  REQUIRE(eventually([&] { return worker.got->count() == 5; }));
  CHECK(worker.got->errors.empty());
  auto snap = worker.snapshot();
  CHECK(snap.nodes[0].dispatched == 1);
  CHECK(snap.nodes[1].dispatched == 4);
  CHECK(snap.local_calls == 0);
  CHECK(*worker.local_calls == 0);
}

TEST_CASE("a generator node runs capacity calls, queues as many, and refuses more",
          "[generator_nodes]") {
  // Several workers may each see room at once; the node stays bounded.
  fake_node node{"gen-full", 1};
  struct seen {
    std::mutex m;
    std::vector<generator_status> statuses;
    std::vector<caf::error> errors;
  };
  auto got = std::make_shared<seen>();
  auto count = [got](bool errors) {
    std::lock_guard<std::mutex> g{got->m};
    return errors ? got->errors.size() : got->statuses.size();
  };
  for (int i = 0; i < 3; ++i) {
    auto target = node.node;
    auto r = request_named("hold", i);
    node.net.sys->spawn([target, r, got](caf::event_based_actor* self) {
      self->request(target, caf::infinite, generate_atom::value, r)
        .then(
          [got](generated_image&, generator_status& s) {
            std::lock_guard<std::mutex> g{got->m};
            got->statuses.push_back(s);
          },
          [got](caf::error& e) {
            std::lock_guard<std::mutex> g{got->m};
            got->errors.push_back(e);
          });
    });
  }
  // The third is refused at once, as "busy" (not a model failure).
  REQUIRE(eventually([&] { return count(true) == 1; }));
  CHECK(got->errors[0].category() == generator_busy_category);
  CHECK(*node.calls == 1);  // one runs, one waits in the node's queue
  node.release();
  REQUIRE(eventually([&] { return *node.calls == 2; }));
  node.release();
  REQUIRE(eventually([&] { return count(false) == 2; }));
  CHECK(count(true) == 1);
  CHECK(got->statuses[0].capacity == 1);
  CHECK(got->statuses[0].load == 1);  // the queued call started when the first ended
  CHECK(got->statuses[1].load == 0);
}

TEST_CASE("a call a full generator node refuses waits and is sent again instead of failing",
          "[generator_nodes]") {
  // A node whose hello promises room that is gone by the time the call
  // arrives (another worker took it): its second call is refused as busy.
  net_system net;
  auto calls = std::make_shared<std::atomic<int>>(0);
  using node_behavior = generator_node_actor::behavior_type;
  auto node = net.sys->spawn([calls](generator_node_actor::pointer) -> node_behavior {
    return {
      [](mesh_hello_atom, const mesh_hello&) {
        mesh_hello own;
        own.node_id = "gen-crowded";
        own.roles = generator_roles({2, 0});
        return own;
      },
      [calls](generate_atom, const generation_request& r)
        -> caf::result<generated_image, generator_status> {
        if (++*calls == 2)
          return generator_busy_error("gen-crowded", 2);
        generated_image out;
        out.model_version = "gen-crowded|" + r.prompt;
        return {out, generator_status{2, 0}};
      },
    };
  });
  auto port = mesh_publish(node, "127.0.0.1", 0);
  REQUIRE(port);
  worker_side worker{{"127.0.0.1:" + std::to_string(*port)}, false};
  REQUIRE(eventually([&] { return worker.up_nodes() == 1; }));
  worker.call(request_named("one"));
  worker.call(request_named("two"));
  REQUIRE(eventually([&] { return worker.got->count() == 2; }));
  CHECK(worker.got->errors.empty());  // the refusal never reached the image
  CHECK(*calls == 3);                 // the refused call was sent again
  CHECK(worker.snapshot().nodes[0].dispatched == 3);
  caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
}

TEST_CASE("without a generator node, calls run locally only when the fallback is local",
          "[generator_nodes]") {
  auto port = free_port();
  auto address = "127.0.0.1:" + std::to_string(port);
  {
    worker_side worker{{address}, true};
    worker.call(request_named("early"));
    REQUIRE(eventually([&] { return worker.got->count() == 1; }));
    CHECK(*worker.local_calls == 1);
    CHECK(worker.got->ok.at(0).rfind("local|", 0) == 0);
    CHECK(worker.snapshot().local_calls == 1);
  }
  {
    worker_side worker{{address}, false};
    worker.call(request_named("patient"));
    std::this_thread::sleep_for(700ms);
    CHECK(worker.got->count() == 0);  // waits for a node
    CHECK(worker.snapshot().waiting == 1);
    CHECK(*worker.local_calls == 0);
    // A node appears at the configured address: the router connects on its
    // next tick and the call goes there.
    fake_node late{"gen-late", 1, port};
    REQUIRE(eventually([&] { return worker.got->count() == 1; }, 10s));
    CHECK(worker.got->ok.at(0).rfind("gen-late|", 0) == 0);
    CHECK(*worker.local_calls == 0);
  }
}

TEST_CASE("a generator node of another protocol version is refused with a clear log line",
          "[generator_nodes]") {
  std::string log = test::captured_stderr([] {
    fake_node old{"gen-old", 2, 0, mesh_protocol_version + 1};
    worker_side worker{{old.address()}, false};
    std::this_thread::sleep_for(1500ms);
    CHECK(worker.up_nodes() == 0);
    worker.call(request_named("never"));
    std::this_thread::sleep_for(300ms);
    CHECK(*old.calls == 0);
    CHECK(worker.got->count() == 0);
  });
  INFO(log);
  // The node's side and the worker's side both say why.
  CHECK(log.find("Refused a worker") != std::string::npos);
  CHECK(log.find("mesh protocol version mismatch") != std::string::npos);
  CHECK(log.find("Generator node refused the hello") != std::string::npos);
}

TEST_CASE("a SIGKILLed generator node's calls are sent elsewhere at once, each answered once",
          "[generator_nodes]") {
  auto killed_port = free_port();
  auto dir = test::make_temp_dir("quel-gen-node");
  auto env = test::environment_without_quel();
  env["QUEL_GENERATOR"] = "local";
  env["QUEL_GENERATOR_LOCAL_LATENCY_MS"] = "4000";
  env["QUEL_GENERATOR_THREADS"] = "4";
  env["QUEL_HTTP_ADDR"] = "off";
  env["QUEL_NODE_ID"] = "gen-child";
  env["QUEL_MESH_LISTEN"] = "127.0.0.1:" + std::to_string(killed_port);
  env["QUEL_MESH_HEARTBEAT_INTERVAL"] = "0.25";
  env["QUEL_MESH_CONNECTION_TIMEOUT"] = "1.5";
  test::child_process child({test::worker_binary(), "serve-generator"}, env,
                            dir + "/serve-generator.log");
  // The second node is not there yet, so the first three calls all go to
  // the child.
  auto second_port = free_port();
  worker_side worker{{"127.0.0.1:" + std::to_string(killed_port),
                      "127.0.0.1:" + std::to_string(second_port)},
                     false};
  REQUIRE(eventually([&] { return worker.up_nodes() == 1; }, 20s));
  for (int i = 0; i < 3; ++i)
    worker.call(request_named("slow", i));
  REQUIRE(eventually([&] { return worker.snapshot().nodes[0].in_flight == 3; }));
  fake_node second{"gen-second", 4, second_port};
  REQUIRE(eventually([&] { return worker.up_nodes() == 2; }));
  CHECK(worker.got->count() == 0);  // the child's model takes 4 s per call

  auto t0 = std::chrono::steady_clock::now();
  child.kill_now();
  REQUIRE(eventually([&] { return worker.got->count() == 3; }, 3s));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - t0).count();
  WARN("calls of the SIGKILLed generator node answered by the other node after " << ms << " ms");
  CHECK(ms < 1000);  // not after a timeout: the monitor fired
  CHECK(worker.got->errors.empty());
  for (auto& version : worker.got->ok)
    CHECK(version.rfind("gen-second|", 0) == 0);
  auto snap = worker.snapshot();
  CHECK_FALSE(snap.nodes[0].up);
  CHECK(snap.nodes[0].redispatched == 3);
  CHECK(snap.nodes[0].in_flight == 0);
  CHECK(*second.calls == 3);
  // Each call was answered exactly once, also later.
  std::this_thread::sleep_for(500ms);
  CHECK(worker.got->count() == 3);

  // The node comes back at its address: the router connects to it again.
  test::child_process again({test::worker_binary(), "serve-generator"}, env,
                            dir + "/serve-generator-2.log");
  REQUIRE(eventually([&] { return worker.up_nodes() == 2; }, 20s));
  again.terminate(5s);
}
