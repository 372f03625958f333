// redis_ops (the QueueActor's Redis bookkeeping) on the in-memory port:
// each request does its command and replies, and the housekeeping request
// runs the reaper. The worker spawns it detached; a detached actor gets a
// thread of its own even under the test coordinator, so the tests spawn the
// same redis_ops_impl as an ordinary actor.
#include <catch2/catch.hpp>

#include "actors/redis_ops_actor.hpp"
#include "actors_fakes.hpp"
#include "fake_queue_store.hpp"

using namespace quel;
using namespace quel::test;
using namespace std::chrono_literals;

namespace {

const std::string queue_name = "jobs:queue";
const std::string mine = "quel:processing:test-node:jobs:queue";

struct redis_ops_fixture : actor_fixture {
  std::shared_ptr<fake_queue_store> redis = std::make_shared<fake_queue_store>();
  std::shared_ptr<std::atomic<bool>> give_up = std::make_shared<std::atomic<bool>>(false);
  redis_ops_actor ops = sys.spawn(redis_ops_impl, std::shared_ptr<queue_store>{redis},
                                  ctx->metrics, give_up);

  ~redis_ops_fixture() {
    caf::anon_send_exit(ops, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// One request to redis_ops, run to its reply; nullopt (and `error` set)
  /// when it failed.
  template <class R, class... Ts>
  std::optional<R> ask(Ts... xs) {
    auto reply = std::make_shared<std::optional<R>>();
    auto failure = std::make_shared<caf::error>();
    sys.spawn([=](caf::event_based_actor* self) {
      self->request(ops, caf::infinite, xs...)
        .then([reply](R r) { *reply = std::move(r); },
              [failure](caf::error& e) { *failure = std::move(e); });
    });
    sched.run();
    error = *failure;
    return *reply;
  }

  caf::error error;
};

} // namespace

TEST_CASE_METHOD(redis_ops_fixture, "redis_ops acks, requeues and dead-letters",
                 "[actors][redis_ops]") {
  redis->lists[mine] = {"c", "b", "a"};
  CHECK(ask<bool>(ack_atom::value, mine, std::string{"b"}) == true);
  CHECK(redis->at(mine) == fake_queue_store::list{"c", "a"});

  CHECK(ask<bool>(requeue_atom::value, mine, queue_name, std::string{"a"}) == true);
  CHECK(redis->at(mine) == fake_queue_store::list{"c"});
  CHECK(redis->at(queue_name) == fake_queue_store::list{"a"});

  dead_letter_entry entry{"c", queue_name, "no job row with this id", "2026-01-01T00:00:00Z"};
  CHECK(ask<bool>(dead_atom::value, entry) == true);
  REQUIRE(redis->dead_letters.size() == 1);
  CHECK(redis->dead_letters[0].id == "c");
  // Dead-lettering alone leaves the id where it is; the QueueActor acks it.
  CHECK(redis->at(mine) == fake_queue_store::list{"c"});
}

TEST_CASE_METHOD(redis_ops_fixture, "redis_ops tells whether a processing list holds an id",
                 "[actors][redis_ops]") {
  auto other = redis_keys::processing("other", queue_name);
  redis->lists[other] = {"x"};
  std::vector<std::string> lists{mine, other};
  CHECK(ask<bool>(held_atom::value, lists, std::string{"x"}) == true);
  CHECK(ask<bool>(held_atom::value, lists, std::string{"y"}) == false);
}

TEST_CASE_METHOD(redis_ops_fixture, "redis_ops housekeeping reclaims an expired node's "
                                    "lists and forgets it", "[actors][redis_ops][reaper]") {
  auto dead = redis_keys::processing("dead-node", queue_name);
  redis->push(queue_name, "waiting");
  redis->renew_node_lease("dead-node", 1000ms);
  redis->lists[dead] = {"b", "a"};  // took a, then b
  redis->renew_node_lease("live-node", 60000ms);
  redis->lists[redis_keys::processing("live-node", queue_name)] = {"l"};
  redis->advance(5000ms);

  housekeeping_request req{"test-node", 30000, {queue_name}, false};
  auto report = ask<housekeeping_report>(house_atom::value, req);
  REQUIRE(report);
  CHECK(report->reclaimed == 2);
  CHECK(report->foreign_processing == 1);
  CHECK(report->queued == 3);
  CHECK(redis->at(dead).empty());
  CHECK(redis->at(queue_name) == fake_queue_store::list{"waiting", "b", "a"});
  CHECK(redis->known_nodes() == std::vector<std::string>{"live-node", "test-node"});
  CHECK(redis->node_alive("test-node"));
  CHECK(ctx->metrics->redis_up);
}

TEST_CASE_METHOD(redis_ops_fixture, "redis_ops in an outage at hard shutdown fails the request",
                 "[actors][redis_ops]") {
  // Without give_up it would wait the outage out; at a hard shutdown it
  // gives up and the caller sees an error instead of a hang.
  redis->down = true;
  *give_up = true;
  CHECK_FALSE(ask<bool>(ack_atom::value, mine, std::string{"a"}));
  CHECK(error);
  CHECK_FALSE(ctx->metrics->redis_up);
}
