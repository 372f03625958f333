// No SQL error kills a database actor: each class of error is injected into
// a real PostgreSQL (a trigger raising the SQLSTATE), the request it hits
// fails with the right retry class (or is retried in place), and the next
// request to the same actor, for the same organisation, succeeds.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <catch2/catch.hpp>
#include <caf/all.hpp>

#include "actors/image_ledger.hpp"
#include "actors/job_store_actor.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "messages/errors.hpp"
#include "tests/support/test_database.hpp"

using namespace std::chrono_literals;
using namespace quel;
using quel::test::test_database;

namespace {

/// How a request that met the injected error ended.
enum class ending { succeeded, retryable, permanent };

struct injected {
  const char* sqlstate;
  const char* name;
  ending first_request;  // in-place retries make conflicts succeed
};

const injected cases[] = {
  {"40001", "serialization failure", ending::succeeded},
  {"40P01", "deadlock", ending::succeeded},
  {"55P03", "lock timeout", ending::retryable},
  {"57014", "statement timeout", ending::retryable},
  {"53200", "out of memory", ending::retryable},
  {"23505", "unique violation", ending::permanent},
  {"22P02", "invalid text representation", ending::permanent},
  {"XX000", "internal error", ending::permanent},
};

/// A trigger on `table` that raises `quel_test_fault.sqlstate` for the next
/// `remaining` inserts. A sequence counts them, as a raised error rolls back
/// everything else the statement did.
void install_fault(test_database& db, const std::string& table) {
  db.exec("CREATE TABLE IF NOT EXISTS quel_test_fault (sqlstate text, remaining int);"
          "CREATE SEQUENCE IF NOT EXISTS quel_test_fault_seq;"
          "CREATE OR REPLACE FUNCTION quel_test_raise() RETURNS trigger LANGUAGE plpgsql AS $$"
          "DECLARE f quel_test_fault%ROWTYPE; BEGIN"
          "  SELECT * INTO f FROM quel_test_fault LIMIT 1;"
          "  IF FOUND AND nextval('quel_test_fault_seq') <= f.remaining THEN"
          "    RAISE EXCEPTION 'injected fault %', f.sqlstate USING ERRCODE = f.sqlstate;"
          "  END IF;"
          "  RETURN NEW;"
          "END $$;"
          "CREATE TRIGGER quel_test_fault BEFORE INSERT ON " + table
          + " FOR EACH ROW EXECUTE FUNCTION quel_test_raise();");
}

void arm_fault(test_database& db, const std::string& sqlstate) {
  db.exec("DELETE FROM quel_test_fault; ALTER SEQUENCE quel_test_fault_seq RESTART;"
          "INSERT INTO quel_test_fault VALUES ('" + sqlstate + "', 1)");
}

ending ending_of(const caf::error& err) {
  return is_retryable(err) ? ending::retryable : ending::permanent;
}

image_commit image(const claimed_job& job, int index) {
  image_commit c;
  c.image = job.image(0, index, 1);
  c.file_name = "s0-i" + std::to_string(index) + ".webp";
  c.object_key = "generated/" + job.job_id.str() + "/" + c.file_name;
  c.mime_type = "image/webp";
  c.size_bytes = 100;
  return c;
}

struct actor_world {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::shared_ptr<worker_metrics> metrics = std::make_shared<worker_metrics>();
  std::shared_ptr<std::atomic<bool>> give_up = std::make_shared<std::atomic<bool>>(false);
};

} // namespace

TEST_CASE("no SQL error kills a ledger shard: the organisation's next commit succeeds",
          "[actors][postgres][errors]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  auto org = db.create_org(1000);
  pg_store direct{db.url()};
  auto job = db.create_job(std::nullopt, org, "single_batch",
                           R"({"prompt": "p", "quantity": 40})");
  auto claimed = direct.claim(ids::job{job}, "node-a", 60s, 5);
  REQUIRE(claimed.result == claimed_job::outcome::claimed);
  REQUIRE(direct.start(ids::job{job}, claimed.epoch, 40));
  install_fault(db, "quel_worker_image");

  actor_world w;
  auto shard = w.sys.spawn<caf::detached>(image_ledger_shard_impl,
                                          std::make_shared<pg_store>(db.url()),
                                          w.metrics, w.give_up);
  caf::scoped_actor self{w.sys};
  int index = 0;
  for (auto& c : cases) {
    INFO(c.name << " (SQLSTATE " << c.sqlstate << ")");
    arm_fault(db, c.sqlstate);
    std::optional<ending> first;
    std::string reason;
    self->request(shard, 30s, commit_atom::value, image(claimed, index++))
      .receive([&](const commit_result&) { first = ending::succeeded; },
               [&](const caf::error& err) {
                 first = ending_of(err);
                 reason = reason_of(err);
               });
    REQUIRE(first);
    CHECK(*first == c.first_request);
    if (*first != ending::succeeded)
      CHECK_THAT(reason, Catch::Contains(c.sqlstate));
    // The same shard, the same organisation: the next image commits.
    std::optional<commit_result> next;
    self->request(shard, 30s, commit_atom::value, image(claimed, index++))
      .receive([&](const commit_result& r) { next = r; },
               [&](const caf::error& err) { FAIL("next commit failed: " << reason_of(err)); });
    REQUIRE(next);
    CHECK(next->result == commit_result::outcome::committed);
  }
  // Charged once per committed image, nothing for the failed ones.
  auto committed = db.count("SELECT count(*) FROM quel_worker_image");
  CHECK(db.org_credit(org) == 1000 - committed);
  caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
}

TEST_CASE("no SQL error kills a job store actor: the next claim succeeds",
          "[actors][postgres][errors]") {
  QUEL_REQUIRE_TEST_DATABASE();
  test_database db;
  install_fault(db, "quel_worker_job");
  worker_settings settings;
  settings.node_id = "node-a";

  actor_world w;
  auto store = w.sys.spawn<caf::detached>(job_store_actor_impl,
                                          std::make_shared<pg_store>(db.url()), settings,
                                          w.metrics, w.give_up);
  caf::scoped_actor self{w.sys};
  for (auto& c : cases) {
    INFO(c.name << " (SQLSTATE " << c.sqlstate << ")");
    arm_fault(db, c.sqlstate);
    auto hit = db.create_job(std::nullopt, std::nullopt, "single_batch", R"({"prompt": "p"})");
    std::optional<ending> first;
    self->request(store, 30s, claim_atom::value, ids::job{hit})
      .receive([&](const claimed_job&) { first = ending::succeeded; },
               [&](const caf::error& err) { first = ending_of(err); });
    REQUIRE(first);
    CHECK(*first == c.first_request);
    auto next = db.create_job(std::nullopt, std::nullopt, "single_batch", R"({"prompt": "p"})");
    std::optional<claimed_job> claimed;
    self->request(store, 30s, claim_atom::value, ids::job{next})
      .receive([&](const claimed_job& j) { claimed = j; },
               [&](const caf::error& err) { FAIL("next claim failed: " << reason_of(err)); });
    REQUIRE(claimed);
    CHECK(claimed->result == claimed_job::outcome::claimed);
  }
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}
