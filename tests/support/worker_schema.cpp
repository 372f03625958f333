#include "tests/support/worker_schema.hpp"

#include <stdexcept>

#include "adapters/postgres/migrations.hpp"
#include "tests/support/process_env.hpp"

namespace quel::test {

void install_worker_schema(pqxx::connection& conn, const std::string& url) {
  const std::string path = QUEL_SOURCE_DIR "/scripts/sql/production_schema.sql";
  auto schema = read_file(path);
  if (schema.empty())
    throw std::runtime_error("cannot read " + path);
  {
    pqxx::nontransaction tx{conn};
    tx.exec("SET client_min_messages = warning");
    tx.exec(schema);
  }
  apply_migrations(url);
}

} // namespace quel::test
