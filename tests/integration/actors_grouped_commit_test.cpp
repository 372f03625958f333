// A ledger shard groups the commits that reach it while it is busy into one
// call (one transaction), answers each requester with its own image's
// outcome, and when a group fails, finds the image at fault by committing
// each alone: only that image's request fails.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <caf/all.hpp>

#include "actors/image_ledger.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "messages/errors.hpp"
#include "tests/support/sample_commit.hpp"
#include "tests/support/test_database.hpp"

using namespace std::chrono_literals;
using namespace quel;
using quel::test::test_database;

namespace {

/// pg_store as the shard's port, recording the size of every commit call.
class counting_ledger final : public credit_ledger {
public:
  explicit counting_ledger(const std::string& url) : store_(url) {}

  std::vector<hold_outcome> hold_images(const image_identity& stage,
                                        const std::vector<int32_t>& images) override {
    return store_.hold_images(stage, images);
  }
  void release_holds(const image_identity& stage,
                     const std::vector<int32_t>& images) override {
    store_.release_holds(stage, images);
  }
  std::vector<commit_result> commit_images(const std::vector<image_commit>& c) override {
    calls.push_back(c.size());
    return store_.commit_images(c);
  }

  // Written on the shard's thread, read by the test after the replies.
  std::vector<size_t> calls;

private:
  pg_store store_;
};

struct shard_world {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<worker_metrics> metrics = std::make_shared<worker_metrics>();
  std::shared_ptr<std::atomic<bool>> give_up = std::make_shared<std::atomic<bool>>(false);
};

/// Waits until some backend waits for a row lock (the shard is blocked).
bool someone_waits_for_a_lock(test_database& db) {
  for (int i = 0; i < 250; ++i) {
    if (db.count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                 " AND datname = current_database()")
        > 0)
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

} // namespace

TEST_CASE("a ledger shard commits the commits that arrived together in one call",
          "[actors][postgres][grouped]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(100);
  pg_store direct{db.url()};
  auto job = db.create_job(std::nullopt, org, "single_batch", R"({"prompt": "p"})");
  auto c = direct.claim(ids::job{job}, "node-a", 60s, 5);
  REQUIRE(c.result == claimed_job::outcome::claimed);
  REQUIRE(direct.start(c.job_id, c.epoch, 12));
  REQUIRE(direct.commit_image(test::sample_commit(c.image(0, 0, 1), 100)).result
          == commit_result::outcome::committed);
  // A permanent error for one image only: stage 1 image 3.
  db.exec("CREATE FUNCTION quel_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
          " BEGIN IF NEW.stage_index = 1 AND NEW.image_index = 3 THEN"
          "   RAISE EXCEPTION 'injected' USING ERRCODE = '23505'; END IF; RETURN NEW; END $$;"
          "CREATE TRIGGER quel_test_refuse BEFORE INSERT ON quel_worker_image"
          " FOR EACH ROW EXECUTE FUNCTION quel_test_refuse()");

  shard_world w;
  auto ledger = std::make_shared<counting_ledger>(db.url());
  auto shard = w.sys.spawn<caf::detached>(image_ledger_shard_impl, ledger, w.metrics,
                                          w.give_up);
  caf::scoped_actor self{w.sys};

  // Keep the shard busy: its next hold waits for the organisation's row lock
  // while the commits arrive.
  auto blocker = std::make_unique<pqxx::connection>(db.url());
  auto lock = std::make_unique<pqxx::work>(*blocker);
  lock->exec_params("SELECT 1 FROM quel_organization WHERE org_id = $1 FOR UPDATE", org);
  auto hold = self->request(shard, 30s, hold_atom::value, c.image(2, 0, 1),
                            std::vector<int32_t>{0});
  REQUIRE(someone_waits_for_a_lock(db));
  auto stale = c.image(0, 2, 1);
  stale.epoch = c.epoch - 1;
  std::vector<image_commit> first{
    test::sample_commit(c.image(0, 1, 1), 101),  // committed
    test::sample_commit(c.image(0, 0, 1), 100),  // duplicate
    test::sample_commit(stale, 102),             // fenced
    test::sample_commit(c.image(0, 3, 1), 103),  // committed
    test::sample_commit(c.image(0, 4, 1), 104),  // committed
  };
  std::vector<std::optional<commit_result>> answers(first.size());
  std::vector<decltype(self->request(shard, 30s, commit_atom::value, first[0]))> pending;
  for (auto& ic : first)
    pending.push_back(self->request(shard, 30s, commit_atom::value, ic));
  lock->commit();
  hold.receive([](const hold_reply& r) { CHECK(r.outcomes.size() == 1); },
               [](const caf::error& e) { FAIL("hold failed: " << reason_of(e)); });
  for (size_t i = 0; i < pending.size(); ++i)
    pending[i].receive([&](const commit_result& r) { answers[i] = r; },
                       [&](const caf::error& e) { FAIL("commit failed: " << reason_of(e)); });
  using outcome = commit_result::outcome;
  REQUIRE(answers[0]);
  CHECK(answers[0]->result == outcome::committed);
  REQUIRE(answers[1]);
  CHECK(answers[1]->result == outcome::already_committed);
  REQUIRE(answers[2]);
  CHECK(answers[2]->result == outcome::lease_lost);
  REQUIRE(answers[3]);
  CHECK(answers[3]->result == outcome::committed);
  REQUIRE(answers[4]);
  CHECK(answers[4]->result == outcome::committed);
  REQUIRE(ledger->calls == std::vector<size_t>{5});  // one call for the five

  // A group whose statement fails: each image alone, only the bad one fails.
  lock.reset();
  lock = std::make_unique<pqxx::work>(*blocker);
  lock->exec_params("SELECT 1 FROM quel_organization WHERE org_id = $1 FOR UPDATE", org);
  auto hold2 = self->request(shard, 30s, hold_atom::value, c.image(2, 0, 1),
                             std::vector<int32_t>{1});
  REQUIRE(someone_waits_for_a_lock(db));
  pending.clear();
  for (int i = 0; i < 4; ++i)
    pending.push_back(
      self->request(shard, 30s, commit_atom::value, test::sample_commit(c.image(1, i, 1), 110)));
  lock->commit();
  hold2.receive([](const hold_reply&) {},
                [](const caf::error& e) { FAIL("hold failed: " << reason_of(e)); });
  std::vector<std::string> results;
  for (auto& p : pending)
    p.receive([&](const commit_result& r) {
                results.push_back(r.result == outcome::committed ? "committed" : "refused");
              },
              [&](const caf::error& e) {
                results.push_back(is_retryable(e) ? "retryable" : "permanent");
              });
  CHECK(results == std::vector<std::string>{"committed", "committed", "committed", "permanent"});
  CHECK(ledger->calls == std::vector<size_t>{5, 4, 1, 1, 1, 1});
  // Charged once per committed image: 1 before, 3 + 3 through the shard.
  CHECK(db.count("SELECT count(*) FROM quel_worker_image") == 7);
  CHECK(db.org_credit(org) == 100 - 7);
  caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
}
