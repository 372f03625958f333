#pragma once

#include <map>
#include <string>
#include <vector>

/// What the tests and the benchmarks need to start the worker binary (and
/// other children): its path, its environment, execve()'s arrays. Plain C++
/// without Catch2, so that bench/ links it too (quel_test_base).
namespace quel::test {

using env_map = std::map<std::string, std::string>;

/// Path of the worker binary: $QUEL_WORKER_BIN, else QUEL_BINARY_DIR/quel-worker.
std::string worker_binary();

/// This process's environment without its QUEL_* variables, so that the
/// host's settings never leak into a worker under test.
env_map environment_without_quel();

/// environment_without_quel() plus what a worker needs to run against
/// `redis_url` and `database_url` with local storage under `storage_dir`
/// (bucket "images"), the local generator and no HTTP endpoint.
env_map local_worker_env(const std::string& redis_url, const std::string& database_url,
                         const std::string& storage_dir);

/// argv and environment as the arrays execve() and posix_spawn() take, built
/// before fork(): a child of a multi-threaded process must not allocate.
class exec_arrays {
public:
  exec_arrays(const std::vector<std::string>& argv, const env_map& env);
  char* const* argv() { return argv_.data(); }
  char* const* envp() { return envp_.data(); }

private:
  std::vector<std::string> args_;
  std::vector<std::string> env_strings_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

/// True when CI=true (or 1, in any case): missing test servers are then
/// failures, not skips.
bool running_in_ci();

/// How many threads process `pid` has ("self": this process), from
/// /proc/<pid>/task; -1 once it is gone.
int thread_count(const std::string& pid);

/// The threads of process `pid` ("self": this process) by name
/// (/proc/<pid>/task/*/comm), with a count each; empty once it is gone.
std::map<std::string, int> thread_names(const std::string& pid);

/// A new directory under the system's temporary directory ($TMPDIR or
/// /tmp), named `prefix` and six random characters; throws when it cannot be
/// made.
std::string make_temp_dir(const std::string& prefix);

/// The last `n` characters of `text` (a log) behind "...", or all of it.
std::string log_tail(const std::string& text, size_t n = 3000);

/// A whole file's bytes ("" when it cannot be read).
std::string read_file(const std::string& path);

} // namespace quel::test
