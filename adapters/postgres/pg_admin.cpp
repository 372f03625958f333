#include "adapters/postgres/pg_admin.hpp"

#include "adapters/postgres/pg_connection.hpp"

namespace quel {

pg_admin::pg_admin(const std::string& database_url)
  : db_(std::make_unique<pg_connection>(database_url)) {
  // nop
}

pg_admin::~pg_admin() = default;

std::vector<job_in_flight> pg_admin::jobs_in_flight() {
  return db_->run([](pqxx::nontransaction& tx) {
    auto r = tx.exec(
      "SELECT j.job_id::text, j.completed_images, j.failed_images, j.total_images,"
      "       w.owner_node,"
      "       to_char(w.lease_expires_at AT TIME ZONE 'UTC',"
      "               'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
      "       coalesce(w.lease_expires_at > now(), false)"
      "  FROM quel_production_jobs j"
      "  LEFT JOIN quel_worker_job w ON w.job_id = j.job_id"
      " WHERE j.job_status = 'processing'"
      " ORDER BY j.created_at, j.job_id");
    std::vector<job_in_flight> jobs;
    jobs.reserve(r.size());
    for (const auto& row : r) {
      job_in_flight j;
      j.job_id = row[0].as<std::string>();
      j.completed_images = row[1].as<int>();
      j.failed_images = row[2].as<int>();
      j.total_images = row[3].as<int>();
      if (!row[4].is_null())
        j.owner_node = row[4].as<std::string>();
      if (!row[5].is_null())
        j.lease_expires_at = row[5].as<std::string>();
      j.lease_live = row[6].as<bool>();
      jobs.push_back(std::move(j));
    }
    return jobs;
  });
}

std::optional<std::string> pg_admin::module_of_job(const std::string& job_id) {
  return db_->run([&](pqxx::nontransaction& tx) -> std::optional<std::string> {
    // An id that is not a UUID is simply not found instead of a cast error.
    auto r = tx.exec_params(
      "SELECT job_input_data->>'module' FROM quel_production_jobs"
      " WHERE job_id = CASE WHEN $1 ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
      "[0-9a-f]{12}$' THEN $1::uuid END",
      job_id);
    if (r.empty() || r[0][0].is_null())
      return std::nullopt;
    return r[0][0].as<std::string>();
  });
}

std::vector<std::string> pg_admin::unfinished_jobs_older_than(double seconds, int limit) {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params(
      "SELECT j.job_id::text FROM quel_production_jobs j"
      " WHERE j.job_status IN ('pending', 'processing')"
      "   AND j.created_at < now() - $1 * interval '1 second'"
      "   AND NOT EXISTS (SELECT 1 FROM quel_worker_job w"
      "                    WHERE w.job_id = j.job_id AND w.lease_expires_at > now())"
      " ORDER BY j.created_at, j.job_id LIMIT $2",
      seconds, limit);
    std::vector<std::string> ids;
    ids.reserve(r.size());
    for (const auto& row : r)
      ids.push_back(row[0].as<std::string>());
    return ids;
  });
}

bool pg_admin::ping() {
  try {
    return db_->run([](pqxx::nontransaction& tx) {
      return tx.exec("SELECT 1")[0][0].as<int>() == 1;
    });
  } catch (const database_unavailable&) {
    return false;
  }
}

} // namespace quel
