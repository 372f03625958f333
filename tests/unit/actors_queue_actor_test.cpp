// The QueueActor on the test coordinator, with the production redis_ops and
// job supervisors over an in-memory Redis port and the scripted fakes of
// actors_fakes.hpp. Takers are stand-ins that record the permits they are
// granted (the real taker has its own tests); ids arrive as a taker would
// hand them up: in this node's processing list, then `taken`. redis_ops and
// takers run detached in the worker; a detached actor gets a thread of its
// own even under the test coordinator, so here they are ordinary actors.
#include <catch2/catch.hpp>

#include "actors/queue_actor.hpp"
#include "actors/redis_ops_actor.hpp"
#include "actors_fakes.hpp"
#include "fake_queue_store.hpp"

using namespace quel;
using namespace quel::test;
using namespace std::chrono_literals;

namespace {

const std::string queue_name = "jobs:queue";
const std::string processing = "quel:processing:test-node:jobs:queue";

std::string uuid(int n) {
  auto tail = std::to_string(n);
  return "00000000-0000-4000-8000-" + std::string(12 - tail.size(), '0') + tail;
}

struct taker_log {
  std::map<std::string, int> permits;  // by queue
  std::vector<queue_taker_actor> takers;
};

/// Stands in for a queue_taker: counts the permits it is granted.
queue_taker_actor::behavior_type permit_recorder(std::shared_ptr<taker_log> log,
                                                 std::string queue) {
  return {
    [log, queue](take_atom, int32_t n) { log->permits[queue] += n; },
  };
}

struct queue_fixture : actor_fixture {
  std::shared_ptr<fake_queue_store> redis = std::make_shared<fake_queue_store>();
  std::shared_ptr<std::atomic<bool>> give_up = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<taker_log> takers = std::make_shared<taker_log>();
  queue_actor queue;
  bool queue_done = false;

  queue_fixture() {
    // The production bookkeeping over the fake port replaces the scripted one.
    caf::anon_send_exit(ctx->redis, caf::exit_reason::user_shutdown);
    ctx->redis = sys.spawn(redis_ops_impl, std::shared_ptr<queue_store>{redis},
                           ctx->metrics, give_up);
    ctx->settings.max_jobs = 4;
  }

  ~queue_fixture() {
    // A normal shutdown: parked supervisors hand their ids back, then the
    // QueueActor quits; whatever is left is killed so ~actor_system returns.
    if (queue && !queue_done) {
      caf::anon_send(queue, stop_atom::value);
      sched.run();
      if (!queue_done)
        caf::anon_send_exit(queue, caf::exit_reason::kill);
    }
    for (auto& t : takers->takers)
      caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void start() {
    auto log = takers;
    auto& system = sys;
    taker_spawner spawn_taker = [log, &system](job_ticket blank, queue_actor) {
      auto taker = system.spawn(permit_recorder, log, blank.queue);
      log->takers.push_back(taker);
      return taker;
    };
    queue = sys.spawn(queue_actor_impl, job_context_ptr{ctx}, spawn_taker, ctx->redis);
    queue->attach_functor([this] { queue_done = true; });
    sched.run();
  }

  /// What a taker does with one id: BLMOVE it, then hand it up.
  void deliver(const std::string& id) {
    redis->lists[processing].push_front(id);
    caf::anon_send(queue, taken_atom::value,
                   job_ticket{id, queue_name, "fashion", processing});
    sched.run();
  }

  /// Moves the test clock on, firing the timers due (ticks, rechecks).
  void advance(std::chrono::milliseconds by) {
    sched.clock().advance_time(by);
    sched.run();
  }

  int permits() const {
    auto i = takers->permits.find(queue_name);
    return i == takers->permits.end() ? 0 : i->second;
  }
};

} // namespace

TEST_CASE_METHOD(queue_fixture, "takers get one slot at a time, never more than max_jobs",
                 "[actors][queue]") {
  ctx->settings.max_jobs = 2;
  s->claim_answer = claimed_job::outcome::missing;  // jobs wait for a recheck
  start();
  CHECK(takers->takers.size() == 1);
  CHECK(permits() == 1);

  deliver(uuid(1));
  CHECK(permits() == 2);  // the slot went to the id; the taker gets the other
  deliver(uuid(2));
  CHECK(permits() == 2);  // both slots are held by ids in flight
  CHECK(ctx->metrics->jobs_in_flight == 2);

  // The rows stay missing: both ids are dead-lettered and give their slots
  // back, the first to the waiting taker.
  advance(ctx->settings.missing_job_recheck);
  CHECK(redis->dead_letters.size() == 2);
  CHECK(ctx->metrics->jobs_in_flight == 0);
  CHECK(permits() == 3);
}

TEST_CASE_METHOD(queue_fixture, "one supervisor per id, and a duplicate id in flight is dropped",
                 "[actors][queue]") {
  s->claim_answer = claimed_job::outcome::missing;  // supervisors stay in flight
  start();
  deliver(uuid(1));
  deliver(uuid(2));
  CHECK(s->claims == 2);
  CHECK(ctx->metrics->jobs_in_flight == 2);

  deliver(uuid(1));  // pushed again by a producer while its job runs
  CHECK(s->claims == 2);
  CHECK(ctx->metrics->jobs_in_flight == 2);
  CHECK(ctx->metrics->jobs_taken == 3);
  // The copy was acked; one entry per job in flight is left.
  CHECK(redis->at(processing) == fake_queue_store::list{uuid(2), uuid(1)});
  CHECK(redis->at(queue_name).empty());
}

TEST_CASE_METHOD(queue_fixture, "a job's id pushed again in upper case while in flight is dropped",
                 "[actors][queue]") {
  // Upper and lower case name the same job row; running both copies made
  // the model image twice and left an orphan object under the other
  // spelling's key (docs/SECURITY.md section 8, row Q8).
  s->claim_answer = claimed_job::outcome::missing;  // supervisors stay in flight
  start();
  auto id = "0000000a-000b-4000-8000-00000000000c";
  auto upper = "0000000A-000B-4000-8000-00000000000C";
  deliver(id);
  deliver(upper);
  CHECK(s->claims == 1);
  CHECK(ctx->metrics->jobs_in_flight == 1);
  CHECK(redis->at(processing) == fake_queue_store::list{id});
}

TEST_CASE_METHOD(queue_fixture, "a finished job's id is acked", "[actors][queue]") {
  s->claim_answer = claimed_job::outcome::finished;
  start();
  deliver(uuid(1));
  CHECK(s->claims == 1);
  CHECK(redis->at(processing).empty());
  CHECK(redis->at(queue_name).empty());
  CHECK(redis->dead_letters.empty());
  CHECK(ctx->metrics->jobs_in_flight == 0);
}

TEST_CASE_METHOD(queue_fixture, "a bad id is dead-lettered, then leaves the processing list",
                 "[actors][queue]") {
  start();
  deliver("not-a-uuid");
  REQUIRE(redis->dead_letters.size() == 1);
  CHECK(redis->dead_letters[0].id == "not-a-uuid");
  CHECK(redis->dead_letters[0].queue == queue_name);
  CHECK(redis->dead_letters[0].reason == "job id is not a UUID");
  CHECK_FALSE(redis->dead_letters[0].at.empty());
  CHECK(redis->length(redis_keys::dead_letter()) == 1);
  CHECK(redis->at(processing).empty());
  CHECK(ctx->metrics->jobs_dead_lettered == 1);
}

TEST_CASE_METHOD(queue_fixture, "at shutdown a job not claimed yet is requeued",
                 "[actors][queue]") {
  s->claim_answer = claimed_job::outcome::missing;
  start();
  redis->push(queue_name, "waiting");
  deliver(uuid(1));
  caf::anon_send(queue, stop_atom::value);
  sched.run();
  CHECK(queue_done);
  CHECK(redis->at(processing).empty());
  // Back at the consuming end: taken again before the id already waiting.
  CHECK(redis->at(queue_name) == fake_queue_store::list{"waiting", uuid(1)});
  CHECK(redis->dead_letters.empty());
}

TEST_CASE_METHOD(queue_fixture, "an id in the processing list with no job goes back after "
                                "two passes", "[actors][queue]") {
  s->claim_answer = claimed_job::outcome::missing;
  ctx->settings.missing_job_recheck = 60s;  // the job in flight stays in flight
  start();
  deliver(uuid(1));
  // A BLMOVE whose reply was lost: the id is in our list but no job has it.
  redis->lists[processing].push_front("stray");

  advance(ctx->settings.housekeeping_interval);  // first pass: only noted
  CHECK(redis->at(processing) == fake_queue_store::list{"stray", uuid(1)});
  CHECK(redis->at(queue_name).empty());

  advance(ctx->settings.housekeeping_interval);  // second pass: returned
  CHECK(redis->at(processing) == fake_queue_store::list{uuid(1)});
  CHECK(redis->at(queue_name) == fake_queue_store::list{"stray"});
}

TEST_CASE_METHOD(queue_fixture, "at start-up the node's own leftovers go back to the queue",
                 "[actors][queue]") {
  redis->lists[processing] = {"b", "a"};  // a previous run took a, then b
  start();
  CHECK(redis->at(processing).empty());
  CHECK(redis->at(queue_name) == fake_queue_store::list{"b", "a"});
  CHECK(redis->node_alive("test-node"));
}

TEST_CASE_METHOD(queue_fixture, "drain stops at once when queues are empty and nothing runs",
                 "[actors][queue][drain]") {
  ctx->settings.drain = true;
  start();
  CHECK(queue_done);
}

TEST_CASE_METHOD(queue_fixture, "drain waits for waiting ids and jobs in flight",
                 "[actors][queue][drain]") {
  ctx->settings.drain = true;
  s->claim_answers = {claimed_job::outcome::missing};  // then claim_answer
  s->claim_answer = claimed_job::outcome::finished;
  redis->push(queue_name, uuid(1));
  start();
  CHECK_FALSE(queue_done);  // an id is waiting

  REQUIRE(redis->take(queue_name, processing, 0ms));
  caf::anon_send(queue, taken_atom::value,
                 job_ticket{uuid(1), queue_name, "fashion", processing});
  sched.run();
  advance(ctx->settings.housekeeping_interval);
  CHECK_FALSE(queue_done);  // its job is in flight (waiting for a recheck)
  CHECK(ctx->metrics->jobs_in_flight == 1);

  // The recheck finds the job finished; the next pass sees nothing left.
  advance(ctx->settings.missing_job_recheck);
  advance(ctx->settings.housekeeping_interval);
  CHECK(queue_done);
  CHECK(redis->at(processing).empty());
  CHECK(redis->dead_letters.empty());
}
