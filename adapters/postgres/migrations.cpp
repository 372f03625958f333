#include "adapters/postgres/migrations.hpp"

#include "adapters/postgres/pg_connection.hpp"
#include "common/embedded_files.hpp"

namespace quel {

namespace {

// Any fixed key works; it only has to be the same for every worker binary.
constexpr const char* lock_sql = "SELECT pg_advisory_xact_lock(hashtext('quel-worker migrate'))";

constexpr const char* ledger_sql =
  "CREATE TABLE IF NOT EXISTS quel_worker_migrations ("
  " name text PRIMARY KEY,"
  " applied_at timestamptz NOT NULL DEFAULT now())";

/// Applies one migration unless it is recorded; true when it applied it.
bool apply_one(pqxx::connection& conn, const embedded::named_text& m) {
  pqxx::work tx{conn, "migrate"};
  // The lock is taken before the ledger is even created, so two first runs
  // cannot race on CREATE TABLE either.
  tx.exec(lock_sql);
  tx.exec(ledger_sql);
  auto done = tx.exec_params("SELECT 1 FROM quel_worker_migrations WHERE name = $1",
                             std::string(m.name));
  if (!done.empty())
    return false;
  tx.exec(m.text);
  tx.exec_params("INSERT INTO quel_worker_migrations (name) VALUES ($1)",
                 std::string(m.name));
  tx.commit();
  return true;
}

} // namespace

std::vector<std::string> apply_migrations(const std::string& database_url) {
  pg_connection db{database_url};
  std::vector<std::string> applied;
  for (const auto& m : embedded::migrations()) {
    try {
      if (apply_one(db.open(), m))
        applied.emplace_back(m.name);
    } catch (const pqxx::broken_connection& e) {
      throw database_unavailable(std::string("database connection lost while migrating: ")
                                 + e.what());
    } catch (const pqxx::in_doubt_error& e) {
      throw database_unavailable(std::string("migration ") + m.name
                                 + " may or may not have committed: " + e.what());
    } catch (const pqxx::sql_error& e) {
      throw migration_error(std::string("migration ") + m.name + " failed: " + e.what());
    }
  }
  return applied;
}

} // namespace quel
