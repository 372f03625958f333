#include "bench/worker_job_runner.hpp"

#include <chrono>
#include <stdexcept>

#include "tests/support/sample_commit.hpp"

namespace quel::bench {

worker_job_runner::worker_job_runner(const std::string& url, worker_flow flow)
  : store_(url), flow_(flow) {
  // nop
}

void worker_job_runner::connect() {
  // Renewing a lease nobody holds matches no row: one harmless round trip.
  store_.renew(ids::job{"00000000-0000-0000-0000-000000000000"}, 0, std::chrono::seconds(1));
}

int worker_job_runner::run_job(const bench_job& job) {
  int trips = 0;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("job " + job.job_id + ": " + what);
  };

  const ids::job id{job.job_id};
  auto claimed = store_.claim(id, "bench-node", std::chrono::minutes(10), 5);
  ++trips;
  if (claimed.result != claimed_job::outcome::claimed)
    fail("claim did not claim");
  auto rows = store_.attach_rows(job.inputs);
  ++trips;
  if (rows.size() != job.inputs.size())
    fail("attach rows missing");
  auto started = store_.start(id, claimed.epoch, 4);
  ++trips;
  if (!started)
    fail("start lost the lease");

  job_finish finish;
  finish.job_id = id;
  finish.epoch = claimed.epoch;
  finish.completed = true;
  for (int stage = 0; stage < 2; ++stage) {
    auto stage_id = claimed.image(stage, 0, 1);
    if (flow_ != worker_flow::commit_only) {
      auto held = store_.hold_images(stage_id, {0, 1});
      ++trips;
      for (auto h : held)
        if (h != hold_outcome::held)
          fail("hold refused");
    }
    std::vector<image_commit> commits;
    for (int image = 0; image < 2; ++image)
      commits.push_back(test::sample_commit(stage_id.with_image(image), 20480));
    std::vector<commit_result> results;
    if (flow_ == worker_flow::grouped) {
      results = store_.commit_images(commits);
      ++trips;
    } else {
      for (const auto& c : commits) {
        results.push_back(store_.commit_image(c));
        ++trips;
      }
    }
    for (const auto& r : results) {
      if (r.result != commit_result::outcome::committed)
        fail("commit did not commit");
      finish.ordered_attach_ids.push_back(r.attach_id);
    }
  }
  if (!store_.finish(finish))
    fail("finish lost the lease");
  ++trips;
  return trips;
}

} // namespace quel::bench
