#include "adapters/postgres/pg_job_admin.hpp"

#include "adapters/postgres/pg_connection.hpp"

#include <map>

namespace quel {

namespace {

// An id that is not a UUID matches nothing instead of failing the cast.
constexpr const char* uuid_or_null =
  "CASE WHEN $1 ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"
  " THEN $1::uuid END";

std::string iso(const char* column) {
  return std::string{"to_char("} + column
         + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

std::string job_columns() {
  return "j.job_id::text, j.job_type, j.job_status, j.job_input_data->>'module',"
         " j.org_id::text, j.production_id::text, j.job_input_data::text,"
         " j.total_images, j.completed_images, j.failed_images, j.error_message, "
         + iso("j.created_at") + ", " + iso("j.started_at") + ", " + iso("j.completed_at")
         + ", " + iso("j.updated_at")
         + ", extract(epoch FROM now() - j.started_at)::float8,"
           " w.owner_node, " + iso("w.lease_expires_at")
         + ", coalesce(w.lease_expires_at > now(), false), coalesce(w.epoch, 0),"
           " coalesce(w.attempts, 0)";
}

template <class T>
std::optional<T> opt(const pqxx::field& f) {
  if (f.is_null())
    return std::nullopt;
  return f.as<T>();
}

job_view view_of(const pqxx::row& r) {
  job_view v;
  v.job_id = r[0].as<std::string>();
  v.job_type = r[1].as<std::string>();
  v.status = r[2].as<std::string>();
  v.module = opt<std::string>(r[3]);
  v.org_id = opt<std::string>(r[4]);
  v.production_id = opt<std::string>(r[5]);
  v.input_json = r[6].as<std::string>();
  v.total_images = r[7].as<int>();
  v.completed_images = r[8].as<int>();
  v.failed_images = r[9].as<int>();
  v.error_message = opt<std::string>(r[10]);
  v.created_at = r[11].as<std::string>();
  v.started_at = opt<std::string>(r[12]);
  v.completed_at = opt<std::string>(r[13]);
  v.updated_at = r[14].as<std::string>();
  v.running_seconds = opt<double>(r[15]);
  v.owner_node = opt<std::string>(r[16]);
  v.lease_expires_at = opt<std::string>(r[17]);
  v.lease_live = r[18].as<bool>();
  v.epoch = r[19].as<int64_t>();
  v.claims = r[20].as<int>();
  return v;
}

std::vector<made_image_row> made_of(pqxx::nontransaction& tx, const std::string& job_id) {
  auto r = tx.exec_params("SELECT stage_index, image_index, attach_id, object_key, "
                            + iso("committed_at")
                            + ", attempts FROM quel_worker_image WHERE job_id = $1::uuid"
                              " ORDER BY stage_index, image_index",
                          job_id);
  std::vector<made_image_row> out;
  for (const auto& row : r)
    out.push_back(made_image_row{row[0].as<int>(), row[1].as<int>(), row[2].as<int64_t>(),
                                 row[3].as<std::string>(), row[4].as<std::string>(),
                                 opt<int>(row[5])});
  return out;
}

job_action_result action_of(const pqxx::result& r) {
  job_action_result out;
  out.outcome = r[0][0].as<std::string>();
  out.status = opt<std::string>(r[0][1]);
  return out;
}

} // namespace

pg_job_admin::pg_job_admin(const std::string& database_url, int statement_timeout_ms)
  : db_(std::make_unique<pg_connection>(database_url)),
    statement_timeout_ms_(statement_timeout_ms) {
  // nop
}

// The timeout is a session setting: set again on every call, because a
// broken connection is replaced by a new session without it. One extra
// round trip, only for the dashboard's connections.
void pg_job_admin::apply_statement_timeout() {
  if (statement_timeout_ms_ <= 0)
    return;
  db_->run([&](pqxx::nontransaction& tx) {
    tx.exec_params("SELECT set_config('statement_timeout', $1, false)",
                   std::to_string(statement_timeout_ms_) + "ms");
    return 0;
  });
}

job_page pg_job_admin::recent_jobs(int limit, int offset,
                                   const std::optional<std::string>& status) {
  return db_->run([&](pqxx::nontransaction& tx) {
    job_page page;
    // $1 NULL: every status.
    std::optional<std::string> filter = status;
    page.total = tx.exec_params("SELECT count(*) FROM quel_production_jobs"
                                " WHERE $1::text IS NULL OR job_status = $1",
                                filter)[0][0]
                   .as<int64_t>();
    auto r = tx.exec_params("SELECT " + job_columns()
                              + " FROM quel_production_jobs j"
                                " LEFT JOIN quel_worker_job w ON w.job_id = j.job_id"
                                " WHERE $1::text IS NULL OR j.job_status = $1"
                                " ORDER BY j.created_at DESC, j.job_id DESC LIMIT $2 OFFSET $3",
                            filter, limit, offset);
    std::map<std::string, size_t> index;
    std::string ids = "{";
    for (const auto& row : r) {
      index[row[0].as<std::string>()] = page.jobs.size();
      ids += (page.jobs.empty() ? "" : ",") + row[0].as<std::string>();
      page.jobs.push_back(view_of(row));
    }
    ids += "}";
    // The made images of the whole page in one round trip.
    if (!page.jobs.empty())
      for (const auto& row : tx.exec_params(
             "SELECT job_id::text, stage_index, image_index, attach_id, object_key, "
               + iso("committed_at")
               + ", attempts FROM quel_worker_image WHERE job_id = ANY($1::uuid[])"
                 " ORDER BY job_id, stage_index, image_index",
             ids))
        page.jobs[index[row[0].as<std::string>()]].made.push_back(
          made_image_row{row[1].as<int>(), row[2].as<int>(), row[3].as<int64_t>(),
                         row[4].as<std::string>(), row[5].as<std::string>(),
                         opt<int>(row[6])});
    if (!page.jobs.empty())
      for (const auto& row : tx.exec_params(
             "SELECT job_id::text, coalesce(sum(amount), 0)::bigint FROM quel_credit_log"
             " WHERE job_id = ANY($1::uuid[]) GROUP BY job_id",
             ids))
        page.jobs[index[row[0].as<std::string>()]].credit_sum = row[1].as<int64_t>();
    return page;
  });
}

std::vector<minute_count> pg_job_admin::throughput(int minutes) {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params(
      "WITH m AS (SELECT generate_series(date_trunc('minute', now()) - ($1 - 1) * interval '1 minute',"
      "                                  date_trunc('minute', now()), interval '1 minute') AS t)"
      " SELECT " + iso("m.t") + ","
      "  (SELECT count(*) FROM quel_worker_image i"
      "    WHERE i.committed_at >= m.t AND i.committed_at < m.t + interval '1 minute'),"
      "  (SELECT count(*) FROM quel_production_jobs j"
      "    WHERE j.completed_at >= m.t AND j.completed_at < m.t + interval '1 minute')"
      " FROM m ORDER BY m.t",
      minutes);
    std::vector<minute_count> out;
    for (const auto& row : r)
      out.push_back(minute_count{row[0].as<std::string>(), row[1].as<int64_t>(),
                                 row[2].as<int64_t>()});
    return out;
  });
}

minute_count pg_job_admin::last_minute() {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec(
      "SELECT " + iso("(now() - interval '1 minute')") + ","
      " (SELECT count(*) FROM quel_worker_image WHERE committed_at > now() - interval '1 minute'),"
      " (SELECT count(*) FROM quel_production_jobs WHERE completed_at > now() - interval '1 minute')");
    return minute_count{r[0][0].as<std::string>(), r[0][1].as<int64_t>(), r[0][2].as<int64_t>()};
  });
}

std::vector<failure_count> pg_job_admin::failure_reasons(int hours, int limit) {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params(
      "SELECT left(coalesce(error_message, '(no message)'), 120) AS reason, count(*)"
      "  FROM quel_production_jobs"
      " WHERE job_status = 'failed' AND updated_at > now() - $1 * interval '1 hour'"
      " GROUP BY reason ORDER BY count(*) DESC, reason LIMIT $2",
      hours, limit);
    std::vector<failure_count> out;
    for (const auto& row : r)
      out.push_back(failure_count{row[0].as<std::string>(), row[1].as<int64_t>()});
    return out;
  });
}

std::optional<std::string> pg_job_admin::attach_key(int64_t attach_id) {
  return db_->run([&](pqxx::nontransaction& tx) -> std::optional<std::string> {
    auto r = tx.exec_params("SELECT coalesce(nullif(attach_file_path, ''), attach_directory)"
                            "  FROM quel_attach WHERE attach_id = $1",
                            attach_id);
    if (r.empty() || r[0][0].is_null())
      return std::nullopt;
    return r[0][0].as<std::string>();
  });
}

pg_job_admin::~pg_job_admin() = default;

std::optional<job_view> pg_job_admin::job(const std::string& job_id) {
  return db_->run([&](pqxx::nontransaction& tx) -> std::optional<job_view> {
    auto r = tx.exec_params("SELECT " + job_columns()
                              + " FROM quel_production_jobs j"
                                " LEFT JOIN quel_worker_job w ON w.job_id = j.job_id"
                                " WHERE j.job_id = " + uuid_or_null,
                            job_id);
    if (r.empty())
      return std::nullopt;
    auto v = view_of(r[0]);
    v.made = made_of(tx, v.job_id);
    for (const auto& row : tx.exec_params(
           "SELECT stage_index, image_index, amount FROM quel_worker_credit_hold"
           " WHERE job_id = $1::uuid ORDER BY stage_index, image_index",
           v.job_id))
      v.holds.push_back(hold_row{row[0].as<int>(), row[1].as<int>(), row[2].as<int64_t>()});
    for (const auto& row : tx.exec_params(
           "SELECT stage_index, image_index, attempts, reason FROM quel_worker_image_failure"
           " WHERE job_id = $1::uuid ORDER BY stage_index, image_index",
           v.job_id))
      v.failures.push_back(failed_image_row{row[0].as<int>(), row[1].as<int>(),
                                            opt<int>(row[2]), row[3].as<std::string>()});
    for (const auto& row : tx.exec_params(
           "SELECT amount, balance_after, attach_id, reason, " + iso("created_at")
             + " FROM quel_credit_log WHERE job_id = $1::uuid ORDER BY created_at, attach_id",
           v.job_id))
      v.credit_log.push_back(credit_log_row{row[0].as<int64_t>(), row[1].as<int64_t>(),
                                            opt<int64_t>(row[2]), row[3].as<std::string>(),
                                            row[4].as<std::string>()});
    return v;
  });
}

std::vector<job_view> pg_job_admin::processing_jobs(int limit) {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params("SELECT " + job_columns()
                              + " FROM quel_production_jobs j"
                                " LEFT JOIN quel_worker_job w ON w.job_id = j.job_id"
                                " WHERE j.job_status = 'processing'"
                                " ORDER BY j.created_at, j.job_id LIMIT $1",
                            limit);
    std::vector<job_view> jobs;
    for (const auto& row : r)
      jobs.push_back(view_of(row));
    for (auto& j : jobs)
      j.made = made_of(tx, j.job_id);
    return jobs;
  });
}

std::optional<double> pg_job_admin::seconds_since_update(const std::string& job_id) {
  return db_->run([&](pqxx::nontransaction& tx) -> std::optional<double> {
    auto r = tx.exec_params(std::string{"SELECT extract(epoch FROM now() - updated_at)::float8"
                                        " FROM quel_production_jobs WHERE job_id = "}
                              + uuid_or_null,
                            job_id);
    if (r.empty())
      return std::nullopt;
    return r[0][0].as<double>();
  });
}

job_action_result pg_job_admin::cancel_idle(const std::string& job_id) {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params("SELECT o_outcome, o_status, o_owner FROM quel_worker_cancel_idle($1::uuid)",
                            job_id);
    auto out = action_of(r);
    out.owner = opt<std::string>(r[0][2]);
    return out;
  });
}

job_action_result pg_job_admin::retry(const std::string& job_id) {
  return db_->run([&](pqxx::nontransaction& tx) {
    auto r = tx.exec_params("SELECT o_outcome, o_status, o_module FROM quel_worker_retry($1::uuid)",
                            job_id);
    auto out = action_of(r);
    out.module = opt<std::string>(r[0][2]);
    return out;
  });
}

} // namespace quel
