#include "bench/worker_scenario.hpp"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "adapters/redis/redis_queue.hpp"
#include "tests/support/process_env.hpp"

namespace quel::bench {

namespace fs = std::filesystem;

namespace {

constexpr int orgs = 5;

int count_files(const fs::path& dir) {
  if (!fs::exists(dir))
    return 0;
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    n += e.is_regular_file() ? 1 : 0;
  return n;
}

} // namespace

worker_scenario::worker_scenario(const std::string& database_url,
                                 const std::string& redis_url, std::string worker_bin,
                                 std::string work_dir)
  : db_(database_url), redis_url_(redis_url), worker_bin_(std::move(worker_bin)),
    work_dir_(std::move(work_dir)), storage_dir_(work_dir_ + "/storage") {
  // The worker's own parser: the benchmark reaches the server the worker does.
  auto a = redis_endpoint::parse(redis_url_);
  redis_ = redisConnect(a.host.c_str(), a.port);
  if (redis_ == nullptr || redis_->err != 0)
    throw std::runtime_error("cannot connect to Redis at " + redis_url_);
  if (!a.password.empty())
    redis_command(a.username.empty() ? std::vector<std::string>{"AUTH", a.password}
                                     : std::vector<std::string>{"AUTH", a.username, a.password});
  redis_command({"SELECT", std::to_string(a.db)});
  // The inputs bench_database::reset names: inputs/<org>/in<k>.png, small
  // real PNGs made once with the vips CLI (as the tests' sample images are).
  for (int o = 0; o < orgs; ++o) {
    auto dir = fs::path(storage_dir_) / "images" / "inputs" / std::to_string(o);
    fs::create_directories(dir);
    for (int k = 0; k < 4; ++k) {
      auto file = (dir / ("in" + std::to_string(k) + ".png")).string();
      auto cmd = "vips black '" + file + "' 64 48 --bands 3 && vips linear '" + file + "' '"
                 + file + ".png' 1 " + std::to_string(40 * k + 20 * o) + " --uchar && mv '"
                 + file + ".png' '" + file + "'";
      if (std::system(cmd.c_str()) != 0)
        throw std::runtime_error("could not make an input image with vips: " + cmd);
    }
  }
}

worker_scenario::~worker_scenario() {
  if (redis_ != nullptr)
    redisFree(redis_);
}

void worker_scenario::redis_command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
    redisCommandArgv(redis_, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (reply == nullptr)
    throw std::runtime_error("Redis command " + args[0] + " failed");
  bool error = reply->type == REDIS_REPLY_ERROR;
  std::string text = error ? std::string(reply->str, reply->len) : "";
  freeReplyObject(reply);
  if (error)
    throw std::runtime_error("Redis " + args[0] + ": " + text);
}

scenario_result worker_scenario::run(const scenario_settings& s,
                                     const std::string& log_name) {
  auto data = db_.reset(s.jobs, orgs);
  fs::remove_all(fs::path(storage_dir_) / "images" / "generated");
  redis_command({"FLUSHDB"});
  std::vector<std::string> push{"LPUSH", "jobs:queue"};
  for (const auto& j : data.jobs)
    push.push_back(j.job_id);
  redis_command(push);

  auto env = test::local_worker_env(redis_url_, db_.url(), storage_dir_);
  // --drain checks for idleness at this interval; the default 1 s would add
  // up to a second to every wall-clock figure.
  env["QUEL_WORKER_HOUSEKEEPING_INTERVAL"] = "0.1";
  // The legacy runner does not sync its files: neither does the worker here
  // (storage.local_sync, docs/PERFORMANCE.md).
  env["QUEL_STORAGE_LOCAL_SYNC"] = "false";
  for (const auto& [k, v] : s.env)
    env[k] = v;

  scenario_result r;
  r.images = 4 * s.jobs;
  r.usage = run_and_measure({worker_bin_, "run", "--drain"}, env,
                            work_dir_ + "/" + log_name + ".log", 300);
  auto where = " (log: " + work_dir_ + "/" + log_name + ".log)";
  if (r.usage.timed_out)
    throw std::runtime_error("the worker did not drain within 300 s" + where);
  if (r.usage.exit_code != 0)
    throw std::runtime_error("the worker exited with " + std::to_string(r.usage.exit_code)
                             + where);
  auto completed = db_.count("SELECT count(*) FROM quel_production_jobs"
                             " WHERE job_status = 'completed' AND completed_images = 4");
  if (completed != s.jobs)
    throw std::runtime_error(std::to_string(completed) + " of " + std::to_string(s.jobs)
                             + " jobs completed" + where);
  auto stored = count_files(fs::path(storage_dir_) / "images" / "generated");
  if (stored != r.images)
    throw std::runtime_error(std::to_string(stored) + " output objects stored, expected "
                             + std::to_string(r.images) + where);
  // Milliseconds between the first start and the last completion.
  auto window_ms = db_.count("SELECT (extract(epoch FROM max(completed_at) - min(started_at))"
                             " * 1000)::bigint FROM quel_production_jobs");
  r.window_images_per_second = r.images / (std::max<int64_t>(window_ms, 1) / 1000.0);
  r.wall_images_per_second = r.images / r.usage.wall_seconds;
  return r;
}

} // namespace quel::bench
