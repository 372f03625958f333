#include "bench/legacy_job_runner.hpp"

#include <vector>

namespace quel::bench {

legacy_job_runner::legacy_job_runner(const std::string& url)
  : conn_(std::make_unique<pqxx::connection>(url)) {
  // nop
}

namespace {

std::string json_array(const std::vector<int64_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i)
    out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "]";
}

} // namespace

int legacy_job_runner::run_job(const bench_job& job) {
  int statements = 0;
  // One nontransaction per statement: libpqxx sends no BEGIN/COMMIT for it,
  // so each exec is exactly one autocommit round trip.
  auto exec = [&](const std::string& sql, auto&&... args) {
    pqxx::nontransaction tx{*conn_};
    ++statements;
    return tx.exec_params(sql, std::forward<decltype(args)>(args)...);
  };
  constexpr int total = 4;
  const int64_t cost = 1;

  // 1-3: fetch the job, mark it and its production processing.
  exec("SELECT * FROM quel_production_jobs WHERE job_id = $1::uuid", job.job_id);
  exec("UPDATE quel_production_jobs SET job_status = 'processing', started_at = now(),"
       " total_images = $2, updated_at = now() WHERE job_id = $1::uuid",
       job.job_id, total);
  exec("UPDATE quel_production_photo SET production_status = 'processing',"
       " updated_at = now() WHERE production_id = $1::uuid",
       job.production_id);

  std::vector<int64_t> made;
  for (int stage = 0; stage < 2; ++stage) {
    for (int image = 0; image < 2; ++image) {
      // 4: the attach row of an input image.
      exec("SELECT * FROM quel_attach WHERE attach_id = $1",
           job.inputs[static_cast<size_t>(2 * stage + image)]);
      // 5: the new image's attach row.
      auto name = "s" + std::to_string(stage) + "-i" + std::to_string(image) + ".webp";
      auto key = "generated/" + job.job_id + "/" + name;
      auto attach_id = exec("INSERT INTO quel_attach (attach_original_name, attach_file_name,"
                            " attach_file_path, attach_file_type, attach_file_size, org_id)"
                            " VALUES ($1, $1, $2, 'image/webp', 20480, $3::uuid)"
                            " RETURNING attach_id",
                            name, key, job.org_id)[0][0]
                         .as<int64_t>();
      made.push_back(attach_id);
      // 6-8: read the balance, write it back lowered (read-modify-write in the
      // client, as the old worker did; racy, but the cost is what counts
      // here), and log the charge.
      auto credit = exec("SELECT org_credit FROM quel_organization WHERE org_id = $1::uuid",
                         job.org_id)[0][0]
                      .as<int64_t>();
      exec("UPDATE quel_organization SET org_credit = $2, updated_at = now()"
           " WHERE org_id = $1::uuid",
           job.org_id, credit - cost);
      exec("INSERT INTO quel_credit_log (org_id, job_id, attach_id, amount, balance_after,"
           " reason) VALUES ($1::uuid, $2::uuid, $3, $4, $5, 'image_generation')",
           job.org_id, job.job_id, attach_id, -cost, credit - cost);
      // 9: progress, with the whole id list the worker keeps in memory.
      exec("UPDATE quel_production_jobs SET completed_images = $2,"
           " generated_attach_ids = $3::jsonb, updated_at = now() WHERE job_id = $1::uuid",
           job.job_id, static_cast<int>(made.size()), json_array(made));
    }
  }

  // 10-13: merge the ids into the production, then the final statuses.
  auto existing = exec("SELECT attach_ids FROM quel_production_photo"
                       " WHERE production_id = $1::uuid",
                       job.production_id)[0][0]
                    .as<std::string>();
  std::string merged = existing == "[]" ? json_array(made)
                                        : existing.substr(0, existing.size() - 1) + ","
                                            + json_array(made).substr(1);
  exec("UPDATE quel_production_photo SET attach_ids = $2::jsonb, updated_at = now()"
       " WHERE production_id = $1::uuid",
       job.production_id, merged);
  exec("UPDATE quel_production_jobs SET job_status = 'completed', completed_at = now(),"
       " updated_at = now() WHERE job_id = $1::uuid",
       job.job_id);
  exec("UPDATE quel_production_photo SET production_status = 'completed', updated_at = now()"
       " WHERE production_id = $1::uuid",
       job.production_id);
  return statements;
}

} // namespace quel::bench
