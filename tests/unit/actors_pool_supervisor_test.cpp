// Pool supervision: a pool member that dies is replaced in its slot, a member
// stopped on purpose is not, and deaths in quick succession back off.
#include <catch2/catch.hpp>

#include "actors/pool_supervisor.hpp"
#include "actors_fakes.hpp"

using namespace quel;
using namespace quel::test;

namespace {

/// A fetcher that answers with the number of the actor that answered, so a
/// test can tell a replacement from the original.
fetch_actor::behavior_type numbered_fetcher(int number) {
  return {
    [number](fetch_atom, const std::string&, int64_t) -> caf::result<blob> {
      return blob{std::to_string(number)};
    },
    [](exists_atom, const std::string&) -> caf::result<bool> { return true; },
  };
}

} // namespace

TEST_CASE_METHOD(actor_fixture, "a pool member that dies is replaced in its slot",
                 "[actors][supervision][pool]") {
  int spawned = 0;
  auto pool = spawn_supervised_pool<fetch_actor>(sys, 2, "fetch", [&] {
    return sys.spawn(numbered_fetcher, ++spawned);
  });
  sched.run();
  auto before = pool.members();
  REQUIRE(before.size() == 2);
  CHECK(spawned == 2);

  caf::anon_send_exit(before[0], caf::exit_reason::kill);
  sched.run();
  auto after = pool.members();
  CHECK(spawned == 3);
  CHECK(after[0] != before[0]);
  CHECK(after[1] == before[1]);

  // The replacement serves requests.
  std::string answer;
  auto client = sys.spawn([&](caf::event_based_actor* self) {
    self->request(after[0], caf::infinite, fetch_atom::value, std::string("k"), int64_t{1})
      .then([&](const blob& b) { answer = b.bytes(); });
  });
  sched.run();
  CHECK(answer == "3");
  stop_pool(pool);
  sched.run();
}

TEST_CASE_METHOD(actor_fixture, "stopping a supervised pool replaces nothing",
                 "[actors][supervision][pool]") {
  int spawned = 0;
  auto pool = spawn_supervised_pool<fetch_actor>(sys, 3, "fetch", [&] {
    return sys.spawn(numbered_fetcher, ++spawned);
  });
  sched.run();
  stop_pool(pool);
  sched.run();
  CHECK(spawned == 3);
  CHECK(sched.trigger_timeouts() == 0);
}

TEST_CASE_METHOD(actor_fixture, "members that keep dying are replaced after a growing delay",
                 "[actors][supervision][pool]") {
  int spawned = 0;
  auto pool = spawn_supervised_pool<fetch_actor>(sys, 1, "fetch", [&] {
    return sys.spawn(numbered_fetcher, ++spawned);
  });
  sched.run();
  // The first death is replaced at once.
  caf::anon_send_exit(pool.members()[0], caf::exit_reason::kill);
  sched.run();
  CHECK(spawned == 2);
  // The next one, right after, waits for a timer.
  caf::anon_send_exit(pool.members()[0], caf::exit_reason::kill);
  sched.run();
  CHECK(spawned == 2);
  REQUIRE(sched.trigger_timeouts() == 1);
  sched.run();
  CHECK(spawned == 3);
  stop_pool(pool);
  sched.run();
}
