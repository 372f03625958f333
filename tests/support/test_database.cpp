#include "tests/support/test_database.hpp"

#include <cstdlib>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "adapters/postgres/pg_connection.hpp"
#include "tests/support/process_env.hpp"
#include "tests/support/worker_schema.hpp"

namespace quel::test {

namespace {

nlohmann::json parse_or_null(const pqxx::result& r) {
  if (r.empty() || r[0][0].is_null())
    return nullptr;
  return nlohmann::json::parse(r[0][0].c_str());
}

// Any fixed key; only test_database uses it.
constexpr const char* test_lock_key = "hashtext('quel-worker test database')";

} // namespace

std::string test_database_url() {
  const char* url = std::getenv("QUEL_TEST_DATABASE_URL");
  if (url != nullptr && *url != '\0')
    return url;
  if (running_in_ci())
    FAIL("QUEL_TEST_DATABASE_URL is not set (required under CI=true)");
  WARN("QUEL_TEST_DATABASE_URL is not set: skipping this PostgreSQL test");
  return "";
}

test_database::test_database() : url_(test_database_url()) {
  if (url_.empty())
    throw std::runtime_error(
      "test_database needs QUEL_TEST_DATABASE_URL (use QUEL_REQUIRE_TEST_DATABASE() first)");
  conn_ = std::make_unique<pqxx::connection>(pg_connection::with_connect_timeout(url_));
  {
    pqxx::nontransaction tx{*conn_};
    // Another test process may be using the database; wait for it, but not
    // forever.
    tx.exec("SET lock_timeout = '300s'");
    tx.exec(std::string("SELECT pg_advisory_lock(") + test_lock_key + ")");
    tx.exec("SET lock_timeout = 0");
    tx.exec("SET client_min_messages = warning");
    tx.exec("DROP SCHEMA IF EXISTS public CASCADE");
    tx.exec("CREATE SCHEMA public");
  }
  install_worker_schema(*conn_, url_);
}

test_database::~test_database() = default;

pqxx::connection& test_database::conn() {
  return *conn_;
}

std::string test_database::create_org(int64_t credits, const std::string& name) {
  pqxx::nontransaction tx{*conn_};
  return tx.exec_params1("INSERT INTO quel_organization (org_name, org_credit)"
                         " VALUES ($1, $2) RETURNING org_id::text",
                         name, credits)[0].as<std::string>();
}

std::string test_database::create_production(const std::optional<std::string>& org_id,
                                             const std::string& attach_ids_json) {
  pqxx::nontransaction tx{*conn_};
  return tx.exec_params1("INSERT INTO quel_production_photo (org_id, attach_ids)"
                         " VALUES ($1::uuid, $2::jsonb) RETURNING production_id::text",
                         org_id, attach_ids_json)[0].as<std::string>();
}

int64_t test_database::create_attach(const std::optional<std::string>& file_path,
                                     const std::optional<std::string>& directory,
                                     const std::optional<std::string>& org_id) {
  pqxx::nontransaction tx{*conn_};
  return tx.exec_params1("INSERT INTO quel_attach (attach_file_path, attach_directory,"
                         " attach_file_type, org_id) VALUES ($1, $2, 'image/png', $3::uuid)"
                         " RETURNING attach_id",
                         file_path, directory, org_id)[0].as<int64_t>();
}

std::string test_database::create_job(const std::optional<std::string>& production_id,
                                      const std::optional<std::string>& org_id,
                                      const std::string& job_type,
                                      const std::string& input_json) {
  pqxx::nontransaction tx{*conn_};
  return tx.exec_params1("INSERT INTO quel_production_jobs (production_id, org_id, job_type,"
                         " job_input_data) VALUES ($1::uuid, $2::uuid, $3, $4::jsonb)"
                         " RETURNING job_id::text",
                         production_id, org_id, job_type, input_json)[0].as<std::string>();
}

nlohmann::json test_database::row_json(const std::string& sql, const std::string& param) {
  pqxx::nontransaction tx{*conn_};
  return parse_or_null(tx.exec_params(sql, param));
}

nlohmann::json test_database::job(const std::string& job_id) {
  return row_json("SELECT to_jsonb(j) FROM quel_production_jobs j WHERE job_id = $1::uuid",
                  job_id);
}

nlohmann::json test_database::production(const std::string& production_id) {
  return row_json("SELECT to_jsonb(p) FROM quel_production_photo p"
                  " WHERE production_id = $1::uuid",
                  production_id);
}

int64_t test_database::org_credit(const std::string& org_id) {
  pqxx::nontransaction tx{*conn_};
  return tx.exec_params1("SELECT org_credit FROM quel_organization WHERE org_id = $1::uuid",
                         org_id)[0].as<int64_t>();
}

nlohmann::json test_database::credit_log(const std::string& org_id) {
  return row_json("SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.log_id), '[]'::jsonb)"
                  "  FROM quel_credit_log l WHERE org_id = $1::uuid",
                  org_id);
}

nlohmann::json test_database::attach(int64_t attach_id) {
  return row_json("SELECT to_jsonb(a) FROM quel_attach a WHERE attach_id = $1::bigint",
                  std::to_string(attach_id));
}

int64_t test_database::count(const std::string& sql) {
  pqxx::nontransaction tx{*conn_};
  auto r = tx.exec(sql);
  if (r.empty() || r[0].empty())
    throw std::runtime_error("count(): no value returned by: " + sql);
  return r[0][0].as<int64_t>();
}

nlohmann::json test_database::lease(const std::string& job_id) {
  return row_json("SELECT to_jsonb(w) FROM quel_worker_job w WHERE job_id = $1::uuid",
                  job_id);
}

void test_database::exec(const std::string& sql) {
  pqxx::nontransaction tx{*conn_};
  tx.exec(sql);
}

} // namespace quel::test
