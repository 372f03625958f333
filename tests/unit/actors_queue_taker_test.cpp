// queue_taker on the in-memory Redis port: it moves ids into this node's
// processing list only while it holds permits, and rides out an outage.
// Takers run detached in the worker; a detached actor gets a thread of its
// own even under the test coordinator, so the tests spawn the same
// queue_taker_impl as an ordinary actor.
#include <catch2/catch.hpp>

#include "actors/queue_taker.hpp"
#include "actors_fakes.hpp"
#include "fake_queue_store.hpp"

using namespace quel;
using namespace quel::test;
using namespace std::chrono_literals;

namespace {

using ticket_log = std::shared_ptr<std::vector<job_ticket>>;

/// Stands in for the QueueActor: records the ids handed up.
queue_actor::behavior_type taken_recorder(ticket_log taken) {
  return {
    [taken](taken_atom, const job_ticket& t) { taken->push_back(t); },
    [](job_end_atom, const job_disposition&) {},
    [](stop_atom) {},
    [](tick_atom) {},
  };
}

struct taker_fixture : actor_fixture {
  std::shared_ptr<fake_queue_store> redis = std::make_shared<fake_queue_store>();
  ticket_log taken = std::make_shared<std::vector<job_ticket>>();
  const std::string queue_name = "jobs:queue";
  const std::string processing = "quel:processing:test-node:jobs:queue";
  queue_actor parent = sys.spawn(taken_recorder, taken);
  queue_taker_actor taker =
    sys.spawn(queue_taker_impl, std::shared_ptr<queue_store>{redis},
              job_ticket{{}, queue_name, "fashion", processing}, parent, 1000ms,
              ctx->metrics);

  ~taker_fixture() {
    caf::anon_send_exit(taker, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(parent, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Runs the taker, bounded: true when it went idle, false when it is
  /// still polling (so a taker that never stops fails instead of hanging).
  bool settles() {
    sched.run(1000);
    return sched.jobs.empty();
  }

  void grant(int32_t permits) {
    caf::anon_send(taker, take_atom::value, permits);
  }

  std::vector<std::string> taken_ids() const {
    std::vector<std::string> ids;
    for (auto& t : *taken)
      ids.push_back(t.job_id);
    return ids;
  }
};

} // namespace

TEST_CASE_METHOD(taker_fixture, "a taker takes only as many ids as it holds permits for",
                 "[actors][taker]") {
  for (auto id : {"a", "b", "c", "d", "e"})
    redis->push(queue_name, id);
  sched.run();
  CHECK(redis->takes == 0);  // no permit yet: not even a look at the queue

  grant(2);
  REQUIRE(settles());  // with its permits used up the taker stops polling
  CHECK(taken_ids() == std::vector<std::string>{"a", "b"});
  CHECK(redis->takes == 2);
  CHECK(redis->at(processing) == fake_queue_store::list{"b", "a"});
  CHECK(redis->length(queue_name) == 3);
  REQUIRE(taken->size() == 2);
  CHECK(taken->front().queue == queue_name);
  CHECK(taken->front().module == "fashion");
  CHECK(taken->front().processing == processing);

  grant(1);
  REQUIRE(settles());
  CHECK(taken_ids() == std::vector<std::string>{"a", "b", "c"});
  CHECK(redis->takes == 3);
  CHECK(redis->length(queue_name) == 2);
}

TEST_CASE_METHOD(taker_fixture, "a taker with a permit waits for an id and then stops",
                 "[actors][taker]") {
  grant(1);
  CHECK_FALSE(settles());  // polls the empty queue while it holds a permit
  CHECK(taken->empty());
  CHECK(redis->takes > 1);

  redis->push(queue_name, "a");
  redis->push(queue_name, "b");
  REQUIRE(settles());
  CHECK(taken_ids() == std::vector<std::string>{"a"});
  CHECK(redis->at(queue_name) == fake_queue_store::list{"b"});
}

TEST_CASE_METHOD(taker_fixture, "a taker waits out a Redis outage and keeps its permits",
                 "[actors][taker]") {
  redis->push(queue_name, "a");
  redis->down = true;
  grant(1);
  REQUIRE(settles());  // the failed take schedules a retry instead of spinning
  CHECK(taken->empty());
  CHECK_FALSE(ctx->metrics->redis_up);

  redis->down = false;
  REQUIRE(sched.trigger_timeouts() == 1);
  REQUIRE(settles());
  CHECK(taken_ids() == std::vector<std::string>{"a"});
  CHECK(ctx->metrics->redis_up);
  CHECK(redis->at(processing) == fake_queue_store::list{"a"});
}
