#include "bench/worker_job_runner.hpp"

#include <chrono>
#include <stdexcept>

#include "tests/support/sample_commit.hpp"

namespace quel::bench {

worker_job_runner::worker_job_runner(const std::string& url, bool with_holds)
  : store_(url), with_holds_(with_holds) {
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
    for (int image = 0; image < 2; ++image) {
      auto image_id = claimed.image(stage, image, 1);
      if (with_holds_) {
        auto h = store_.hold(image_id);
        ++trips;
        if (h != hold_outcome::held)
          fail("hold refused");
      }
      auto r = store_.commit_image(test::sample_commit(image_id, 20480));
      ++trips;
      if (r.result != commit_result::outcome::committed)
        fail("commit_image did not commit");
      finish.ordered_attach_ids.push_back(r.attach_id);
    }
  }
  if (!store_.finish(finish))
    fail("finish lost the lease");
  ++trips;
  return trips;
}

} // namespace quel::bench
