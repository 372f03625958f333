#include "tests/support/worker_harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <catch2/catch.hpp>

#include "tests/support/child_process.hpp"

namespace fs = std::filesystem;

namespace quel::test {

namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// A gradient in PPM, which vips converts to any format the tests need; the
// pixels differ per variant so that inputs are not all identical.
std::string make_ppm(int variant) {
  const int w = 64, h = 48;
  std::string ppm = "P6\n64 48\n255\n";
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      ppm.push_back(static_cast<char>((x * 4 + variant * 40) & 0xff));
      ppm.push_back(static_cast<char>((y * 5 + variant * 70) & 0xff));
      ppm.push_back(static_cast<char>(((x + y) * 2 + variant * 90) & 0xff));
    }
  return ppm;
}

} // namespace

bool e2e_services_available() {
  // Both helpers WARN (and return "") outside CI, and FAIL under CI.
  return !test_database_url().empty() && !test_redis_url().empty();
}

run_result run_process(const std::vector<std::string>& argv, const env_map& env,
                       std::chrono::milliseconds timeout) {
  run_result r;
  int out_pipe[2];
  int err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  exec_arrays args{argv, env};

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      ::dup2(devnull, STDIN_FILENO);
    ::execve(args.argv()[0], args.argv(), args.envp());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 500)));
    if (n < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
        continue;
      auto got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0)
      ::close(f.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = shell_status(process_end_of(status));
  return r;
}

const std::string& sample_image(const std::string& ext, int variant) {
  // The scratch directory goes when the process ends.
  struct scratch_dir {
    std::string path;
    ~scratch_dir() {
      std::error_code ec;
      if (!path.empty())
        fs::remove_all(path, ec);
    }
  };
  static std::mutex mtx;
  static std::map<std::pair<std::string, int>, std::string> cache;
  static scratch_dir scratch;
  auto& dir = scratch.path;
  std::lock_guard<std::mutex> guard{mtx};
  auto key = std::make_pair(ext, variant);
  if (auto i = cache.find(key); i != cache.end())
    return i->second;
  if (dir.empty())
    dir = make_temp_dir("quel-e2e-images-");
  auto base = dir + "/v" + std::to_string(variant);
  write_file(base + ".ppm", make_ppm(variant));
  auto out = base + "." + ext;
  env_map env{{"PATH", env_or_empty("PATH")}, {"HOME", env_or_empty("HOME")}};
  auto r = run_process({"/usr/bin/vips", "copy", base + ".ppm", out}, env,
                       std::chrono::seconds{30});
  INFO("vips copy stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  auto bytes = read_file(out);
  REQUIRE(bytes.size() > 16);
  return cache.emplace(key, std::move(bytes)).first->second;
}

worker_harness::worker_harness()
  : storage_dir_(make_temp_dir("quel-e2e-storage-")) {
  fs::create_directories(fs::path{storage_dir_} / "images");
}

worker_harness::~worker_harness() {
  std::error_code ec;
  fs::remove_all(storage_dir_, ec);
}

void worker_harness::put_object(const std::string& key, const std::string& bytes) {
  write_file(fs::path{storage_dir_} / "images" / key, bytes);
  inputs_.insert(key);
}

bool worker_harness::has_object(const std::string& key) const {
  return fs::is_regular_file(fs::path{storage_dir_} / "images" / key);
}

std::string worker_harness::read_object(const std::string& key) const {
  auto p = fs::path{storage_dir_} / "images" / key;
  INFO("object " << p.string());
  REQUIRE(fs::is_regular_file(p));
  return read_file(p);
}

std::set<std::string> worker_harness::output_objects() const {
  std::set<std::string> keys;
  auto root = fs::path{storage_dir_} / "images";
  for (auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file())
      continue;
    auto key = fs::relative(entry.path(), root).generic_string();
    if (inputs_.count(key) == 0)
      keys.insert(key);
  }
  return keys;
}

int64_t worker_harness::add_input(const std::string& key, const std::string& bytes,
                                  const std::optional<std::string>& org_id) {
  put_object(key, bytes);
  ++inputs_created_;
  return db_.create_attach(key, std::nullopt, org_id);
}

int64_t worker_harness::add_legacy_input(const std::string& key, const std::string& bytes,
                                         const std::optional<std::string>& file_path) {
  put_object(key, bytes);
  ++inputs_created_;
  return db_.create_attach(file_path, key, std::nullopt);
}

env_map worker_harness::worker_env(const env_map& extra) const {
  auto env = local_worker_env(test_redis_url(), test_database_url(), storage_dir_);
  env["QUEL_MISSING_JOB_RECHECK_SECONDS"] = "0.2";
  for (auto& [k, v] : extra)
    env[k] = v;
  return env;
}

run_result worker_harness::run_worker(const std::vector<std::string>& args,
                                      const env_map& extra_env,
                                      std::chrono::seconds timeout) {
  auto bin = worker_binary();
  INFO("worker binary " << bin);
  REQUIRE(::access(bin.c_str(), X_OK) == 0);
  std::vector<std::string> argv{bin};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, worker_env(extra_env), timeout);
  if (r.timed_out) {
    std::string cmd;
    for (auto& a : args)
      cmd += " " + a;
    FAIL("quel-worker" << cmd << " still running after " << timeout.count()
                       << " s; killed. stderr tail:\n" << log_tail(r.err, 4000));
  }
  return r;
}

run_result worker_harness::drain(const env_map& extra_env,
                                 const std::vector<std::string>& extra_args) {
  std::vector<std::string> args{"run", "--drain"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto r = run_worker(args, extra_env);
  INFO("run --drain stderr tail:\n" << log_tail(r.err, 4000));
  REQUIRE(r.exit_code == 0);
  return r;
}

void worker_harness::enqueue(const std::string& job_id, const std::string& queue) {
  redis_.lpush(queue, job_id);
}

std::vector<std::string> worker_harness::non_empty_lists() {
  std::vector<std::string> lists;
  for (auto& key : redis_.keys("*")) {
    if (key == "jobs:dead")
      continue;
    // Leases and other bookkeeping keys are not lists.
    if (redis_.command({"TYPE", key}) == "list" && redis_.llen(key) > 0)
      lists.push_back(key);
  }
  return lists;
}

bool contains_nocase(const std::string& haystack, const std::string& needle) {
  auto lower = [](std::string s) {
    for (auto& c : s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

std::string stage_json(int stage_index, const std::string& prompt, int quantity,
                       const std::vector<std::string>& inputs) {
  std::string list;
  for (auto& i : inputs)
    list += (list.empty() ? "" : ", ") + i;
  return "{\"stage_index\": " + std::to_string(stage_index)
         + ", \"prompt\": " + nlohmann::json(prompt).dump()
         + ", \"quantity\": " + std::to_string(quantity)
         + ", \"individualImageAttachIds\": [" + list + "]}";
}

std::string attach_entry(const std::string& attach_id_text, const std::string& type) {
  return "{\"attachId\": " + attach_id_text + ", \"type\": \"" + type + "\"}";
}

std::string from_stage_entry(int stage, int index, const std::string& type) {
  return "{\"fromStage\": " + std::to_string(stage) + ", \"index\": "
         + std::to_string(index) + ", \"type\": \"" + type + "\"}";
}

std::string pipeline_json(const std::vector<std::string>& stages,
                          const std::string& aspect_ratio) {
  std::string list;
  for (auto& s : stages)
    list += (list.empty() ? "" : ", ") + s;
  return "{\"stages\": [" + list + "], \"aspectRatio\": \"" + aspect_ratio + "\"}";
}

} // namespace quel::test
