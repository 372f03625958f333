// The invariant check itself must be able to fail: a clean run is checked,
// then each kind of violation is planted by hand and must be counted.
#include <chrono>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "adapters/postgres/pg_connection.hpp"
#include "tests/fault/fault_world.hpp"
#include "tests/support/test_redis.hpp"

namespace quel::test {

TEST_CASE("the fault suite's invariant check counts planted violations", "[fault]") {
  QUEL_REQUIRE_TEST_DATABASE();
  QUEL_REQUIRE_TEST_REDIS();
  fault_world w{"checker", "", ""};
  w.create_orgs(1, 1000);
  w.create_inputs(2);
  for (int n = 0; n < 2; ++n)
    w.enqueue(w.add_job(n));
  auto drain = w.start_worker("fault-checker-node", {"run", "--drain"});
  auto end = drain->wait_for(std::chrono::seconds(60));
  INFO(drain->log());
  REQUIRE(end);
  REQUIRE(end->exited);
  REQUIRE(end->code == 0);

  auto before = w.check("checker-clean");
  for (auto& p : before.problems)
    UNSCOPED_INFO(p);
  REQUIRE(before.clean());
  REQUIRE(before.images == 8);

  auto& job = w.jobs()[0];
  pqxx::connection c{pg_connection::with_connect_timeout(w.database_url())};
  pqxx::nontransaction tx{c};
  // A second charge of an image already charged.
  tx.exec_params("INSERT INTO quel_credit_log (org_id, job_id, attach_id, amount,"
                 " balance_after, reason) SELECT org_id, job_id, attach_id, amount,"
                 " balance_after - 2, reason FROM quel_credit_log WHERE job_id = $1::uuid"
                 " LIMIT 1",
                 job.id);
  tx.exec_params("UPDATE quel_organization SET org_credit = org_credit - 2"
                 " WHERE org_id = $1::uuid",
                 *job.org_id);
  // An id listed twice, and a job put back to processing.
  tx.exec_params("UPDATE quel_production_jobs SET generated_attach_ids ="
                 " generated_attach_ids || (generated_attach_ids -> 0)"
                 " WHERE job_id = $1::uuid",
                 w.jobs()[1].id);
  tx.exec_params("UPDATE quel_production_jobs SET job_status = 'processing'"
                 " WHERE job_id = $1::uuid",
                 job.id);
  // An object nobody committed, and an id left in a queue.
  auto orphan = std::filesystem::path{w.storage_dir()} / "images" / "generated" / job.id
                / "s9-i9.webp";
  std::ofstream{orphan} << "not an image";
  test_redis{w.redis_url()}.lpush("jobs:queue", job.id);

  auto after = w.check("checker-planted");
  CHECK_FALSE(after.clean());
  CHECK(after.double_charged >= 1);
  CHECK(after.duplicated >= 1);
  CHECK(after.stuck == 1);
  CHECK(after.lost >= 1);
  CHECK(after.orphaned == 1);
  CHECK(after.leftovers >= 1);
}

} // namespace quel::test
