#include "tests/support/process_env.hpp"

#include <dirent.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace quel::test {

std::string worker_binary() {
  const char* from_env = std::getenv("QUEL_WORKER_BIN");
  if (from_env != nullptr && *from_env != '\0')
    return from_env;
  return std::string{QUEL_BINARY_DIR} + "/quel-worker";
}

env_map environment_without_quel() {
  env_map env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos || kv.compare(0, 5, "QUEL_") == 0)
      continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

env_map local_worker_env(const std::string& redis_url, const std::string& database_url,
                         const std::string& storage_dir) {
  auto env = environment_without_quel();
  env["QUEL_REDIS_URL"] = redis_url;
  env["QUEL_DATABASE_URL"] = database_url;
  env["QUEL_STORAGE"] = "local";
  env["QUEL_STORAGE_DIR"] = storage_dir;
  env["QUEL_STORAGE_BUCKET"] = "images";
  env["QUEL_GENERATOR"] = "local";
  env["QUEL_HTTP_ADDR"] = "off";
  return env;
}

exec_arrays::exec_arrays(const std::vector<std::string>& argv, const env_map& env)
  : args_(argv) {
  for (auto& [k, v] : env)
    env_strings_.push_back(k + "=" + v);
  for (auto& a : args_)
    argv_.push_back(const_cast<char*>(a.c_str()));
  argv_.push_back(nullptr);
  for (auto& e : env_strings_)
    envp_.push_back(const_cast<char*>(e.c_str()));
  envp_.push_back(nullptr);
}

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr)
    return false;
  std::string v = ci;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "true" || v == "1";
}

namespace {

/// Calls `f(task_dir)` for every thread of `pid`; false when there is no
/// such process.
template <class F>
bool for_each_thread(const std::string& pid, F f) {
  auto dir = "/proc/" + pid + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return false;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.')
      f(dir + "/" + e->d_name);
  ::closedir(d);
  return true;
}

} // namespace

int thread_count(const std::string& pid) {
  int n = 0;
  return for_each_thread(pid, [&](const std::string&) { ++n; }) ? n : -1;
}

std::map<std::string, int> thread_names(const std::string& pid) {
  std::map<std::string, int> names;
  for_each_thread(pid, [&](const std::string& task) {
    auto comm = read_file(task + "/comm");
    while (!comm.empty() && comm.back() == '\n')
      comm.pop_back();
    names[comm]++;
  });
  return names;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed for " + tmpl + ": " + std::strerror(errno));
  return tmpl;
}

std::string log_tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace quel::test
