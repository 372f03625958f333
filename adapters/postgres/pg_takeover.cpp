#include "adapters/postgres/pg_takeover.hpp"

namespace quel {

int64_t take_over_node_jobs(pg_connection& db, const std::string& dead_node) {
  return db.run([&](pqxx::nontransaction& tx) {
    auto row = tx.exec_params1("SELECT quel_worker_take_over_node($1)", dead_node);
    return row[0].as<int64_t>(0);
  });
}

} // namespace quel
