// Image ledger (CreditActor role) routing: every credit change of one image goes to one ledger
// shard, so a hold, its release and its commit are serialised on one
// connection (and, with an organisation, with that organisation's others).
#include <catch2/catch.hpp>

#include <vector>

#include "actors/image_ledger.hpp"
#include "actors_fakes.hpp"

using namespace quel;
using namespace quel::test;

namespace {

struct ledger_call {
  int shard = 0;
  std::string what;  // hold, commit, unhold
  image_identity image;
};

using ledger_calls = std::shared_ptr<std::vector<ledger_call>>;

image_ledger_actor::behavior_type recording_shard(int shard, ledger_calls calls) {
  return {
    [=](hold_atom, const image_identity& image, const std::vector<int32_t>& images) {
      calls->push_back({shard, "hold", image});
      return hold_reply{std::vector<hold_outcome>(images.size(), hold_outcome::held)};
    },
    [=](commit_atom, const image_commit& c) {
      calls->push_back({shard, "commit", c.image});
      return commit_result{};
    },
    [=](unhold_atom, const image_identity& image, const std::vector<int32_t>&) {
      calls->push_back({shard, "unhold", image});
    },
    [](run_atom) {},
  };
}

constexpr int shard_count = 8;

struct routing_fixture : actor_fixture {
  ledger_calls calls = std::make_shared<std::vector<ledger_call>>();
  actor_pool<image_ledger_actor> shards;
  image_ledger_actor front;

  routing_fixture() {
    std::vector<image_ledger_actor> members;
    for (int i = 0; i < shard_count; ++i)
      members.push_back(sys.spawn(recording_shard, i, calls));
    shards = actor_pool<image_ledger_actor>{members};
    front = sys.spawn(image_ledger_impl, shards);
  }

  ~routing_fixture() {
    caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
    stop_pool(shards);
    sched.run();
  }

  /// Hold, release and commit of `image`, as an image actor sends them.
  void settle(const image_identity& image) {
    std::vector<int32_t> one{static_cast<int32_t>(image.image_index)};
    caf::anon_send(front, hold_atom::value, image, one);
    caf::anon_send(front, unhold_atom::value, image, one);
    image_commit c;
    c.image = image;
    caf::anon_send(front, commit_atom::value, c);
    sched.run();
  }

  int shard_of(const std::string& key) const {
    auto target = shards.for_key(key);
    for (int i = 0; i < shard_count; ++i)
      if (shards.members()[i] == target)
        return i;
    return -1;
  }
};

/// An organisation whose shard differs from the job's: only then does a
/// release routed by the wrong key go to another shard than its hold.
std::string org_on_another_shard(const routing_fixture& f, const std::string& job) {
  for (int n = 0;; ++n) {
    auto org = "00000000-0000-0000-0000-" + std::to_string(100000000000 + n);
    if (f.shard_of(org) != f.shard_of(job))
      return org;
  }
}

} // namespace

TEST_CASE_METHOD(routing_fixture, "a hold, its release and its commit reach one ledger shard",
                 "[actors][credits]") {
  const std::string job = "00000000-0000-0000-0000-000000000001";
  auto org = org_on_another_shard(*this, job);
  image_identity image{ids::job{job}, 3, 1, 2, ids::org{org}, 5};
  settle(image);
  REQUIRE(calls->size() == 3);
  for (auto& call : *calls) {
    INFO(call.what);
    CHECK(call.shard == shard_of(org));  // the organisation's shard
    CHECK(call.image.job_id == image.job_id);
    CHECK(call.image.epoch == 3);
    CHECK(call.image.stage_index == 1);
    CHECK(call.image.image_index == 2);
    CHECK(call.image.org_id == image.org_id);
    CHECK(call.image.cost == 5);
  }
}

TEST_CASE_METHOD(routing_fixture, "an image nobody pays for is settled on its job's shard",
                 "[actors][credits]") {
  const std::string job = "00000000-0000-0000-0000-000000000002";
  settle(image_identity{ids::job{job}, 1, 0, 0, std::nullopt, 0});
  REQUIRE(calls->size() == 3);
  for (auto& call : *calls)
    CHECK(call.shard == shard_of(job));
}
