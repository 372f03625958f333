#include "bench/bench_database.hpp"

#include <chrono>
#include <thread>

#include "tests/support/worker_schema.hpp"

namespace quel::bench {

namespace {

constexpr const char* bench_db_name = "quel_bench";

/// `url` pointed at database `name`: libpq lets a later dbname override the
/// one in the URI path (URI) or before it (key=value).
std::string with_dbname(const std::string& url, const std::string& name) {
  bool is_uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!is_uri)
    return url + " dbname=" + name;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "dbname=" + name;
}

} // namespace

bench_database::bench_database(const std::string& admin_url)
  : admin_url_(admin_url), url_(with_dbname(admin_url, bench_db_name)) {
  admin_ = std::make_unique<pqxx::connection>(admin_url_);
  {
    pqxx::nontransaction tx{*admin_};
    tx.exec("SET client_min_messages = warning");
    tx.exec(std::string("DROP DATABASE IF EXISTS ") + bench_db_name + " WITH (FORCE)");
    tx.exec(std::string("CREATE DATABASE ") + bench_db_name);
  }
  pqxx::connection conn{url_};
  test::install_worker_schema(conn, url_);
}

bench_database::~bench_database() = default;

bench_data_set bench_database::reset(int jobs, int orgs) {
  bench_data_set set;
  pqxx::connection conn{url_};
  pqxx::work tx{conn};
  tx.exec("TRUNCATE quel_credit_log, quel_production_jobs, quel_production_photo,"
          " quel_attach, quel_organization, quel_worker_job, quel_worker_image,"
          " quel_worker_credit_hold, quel_worker_image_failure");
  for (int o = 0; o < orgs; ++o)
    set.orgs.push_back(tx.exec_params1("INSERT INTO quel_organization (org_name, org_credit)"
                                       " VALUES ($1, 1000000000) RETURNING org_id::text",
                                       "bench org " + std::to_string(o))[0]
                         .as<std::string>());
  // Four input images per organisation, as a user's uploads would be.
  std::vector<std::vector<int64_t>> inputs(orgs);
  for (int o = 0; o < orgs; ++o)
    for (int k = 0; k < 4; ++k)
      inputs[o].push_back(
        tx.exec_params1("INSERT INTO quel_attach (attach_file_name, attach_file_path,"
                        " attach_file_type, attach_file_size, org_id)"
                        " VALUES ($1, $2, 'image/png', 4096, $3::uuid) RETURNING attach_id",
                        "in" + std::to_string(k) + ".png",
                        "inputs/" + std::to_string(o) + "/in" + std::to_string(k) + ".png",
                        set.orgs[o])[0]
          .as<int64_t>());
  for (int j = 0; j < jobs; ++j) {
    int o = j % orgs;
    bench_job job;
    job.org_id = set.orgs[o];
    job.inputs = inputs[o];
    job.production_id = tx.exec_params1("INSERT INTO quel_production_photo (org_id)"
                                        " VALUES ($1::uuid) RETURNING production_id::text",
                                        job.org_id)[0]
                          .as<std::string>();
    auto& in = job.inputs;
    std::string input = R"({"stages": [)"
                        R"({"stage_index": 0, "prompt": "bench stage 0", "quantity": 2,)"
                        R"( "individualImageAttachIds": [{"attachId": )"
                        + std::to_string(in[0]) + R"(, "type": "model"}, {"attachId": )"
                        + std::to_string(in[1]) + R"(, "type": "top"}]},)"
                        R"({"stage_index": 1, "prompt": "bench stage 1", "quantity": 2,)"
                        R"( "individualImageAttachIds": [{"attachId": )"
                        + std::to_string(in[2]) + R"(, "type": "shoes"}, {"attachId": )"
                        + std::to_string(in[3]) + R"(, "type": "bag"}]}], "aspectRatio": "3:4"})";
    job.job_id = tx.exec_params1("INSERT INTO quel_production_jobs (production_id, org_id,"
                                 " job_type, job_input_data) VALUES ($1::uuid, $2::uuid,"
                                 " 'pipeline_stage', $3::jsonb) RETURNING job_id::text",
                                 job.production_id, job.org_id, input)[0]
                   .as<std::string>();
    set.jobs.push_back(std::move(job));
  }
  tx.commit();
  pqxx::nontransaction nt{conn};
  nt.exec("ANALYZE");
  // Needs superuser (the throwaway server's user is); without it a checkpoint
  // may land inside a timed run, which the median absorbs.
  try {
    nt.exec("CHECKPOINT");
  } catch (const pqxx::sql_error&) {
    // nop
  }
  return set;
}

int64_t bench_database::server_transactions() {
  pqxx::nontransaction tx{*admin_};
  auto read = [&] {
    // Each autocommit statement sees a fresh snapshot of the statistics.
    return tx.exec_params1("SELECT xact_commit + xact_rollback FROM pg_stat_database"
                           " WHERE datname = $1",
                           bench_db_name)[0]
      .as<int64_t>();
  };
  for (int i = 0; i < 500; ++i) {
    auto open = tx.exec_params1("SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                                bench_db_name)[0]
                  .as<int64_t>();
    if (open == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // A backend leaves pg_stat_activity just before it flushes its counts on
  // exit: wait until two reads agree.
  auto last = read();
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    auto now = read();
    if (now == last)
      break;
    last = now;
  }
  return last;
}

int64_t bench_database::count(const std::string& sql) {
  pqxx::connection conn{url_};
  pqxx::nontransaction tx{conn};
  return tx.exec(sql)[0][0].as<int64_t>();
}

} // namespace quel::bench
