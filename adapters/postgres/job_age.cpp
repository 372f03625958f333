#include "adapters/postgres/job_age.hpp"

#include "adapters/postgres/pg_connection.hpp"

namespace quel {

std::optional<double> job_age_seconds(pg_connection& db, const std::string& job_id) {
  return db.run([&](pqxx::nontransaction& tx) -> std::optional<double> {
    // An id that is not a UUID is simply not found instead of a cast error.
    auto r = tx.exec_params(
      "SELECT extract(epoch FROM now() - created_at)::float8 FROM quel_production_jobs"
      " WHERE job_id = CASE WHEN $1 ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
      "[0-9a-f]{12}$' THEN $1::uuid END",
      job_id);
    if (r.empty() || r[0][0].is_null())
      return std::nullopt;
    return r[0][0].as<double>();
  });
}

} // namespace quel
