#pragma once

#include <string>

#include <pqxx/pqxx>

namespace quel::test {

/// Gives the (empty) database behind `conn` the schema every test and
/// benchmark database starts from: scripts/sql/production_schema.sql, then the
/// worker's migrations, applied through `url` (the same database). Throws on
/// any error.
void install_worker_schema(pqxx::connection& conn, const std::string& url);

} // namespace quel::test
