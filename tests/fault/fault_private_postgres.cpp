#include "tests/fault/fault_private_postgres.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <catch2/catch.hpp>

#include "tests/support/test_redis.hpp"
#include "tests/support/worker_harness.hpp"

namespace fs = std::filesystem;

namespace quel::test {

namespace {

std::string newest_pg_bin() {
  std::vector<std::string> dirs;
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(e.path() / "bin" / "pg_ctl"))
      dirs.push_back((e.path() / "bin").string());
  if (dirs.empty())
    FAIL("no PostgreSQL server binaries under /usr/lib/postgresql");
  std::sort(dirs.begin(), dirs.end());
  return dirs.back();
}

// PostgreSQL refuses to run as root: then every server command runs as the
// `postgres` user.
std::vector<std::string> as_owner(std::vector<std::string> argv) {
  if (::geteuid() != 0)
    return argv;
  std::vector<std::string> out{"/usr/sbin/runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

env_map plain_env() {
  env_map env;
  env["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  env["LANG"] = "C.UTF-8";
  return env;
}

} // namespace

private_postgres::private_postgres() : bin_(newest_pg_bin()) {
  dir_ = make_temp_dir("quel-fault-pg-");
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam("postgres");
    REQUIRE(pw != nullptr);
    REQUIRE(::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) == 0);
  }
  port_ = free_tcp_port();
  auto r = run_process(as_owner({bin_ + "/initdb", "-D", dir_ + "/data", "-U", "postgres",
                                 "-A", "trust", "--no-sync", "-E", "UTF8"}),
                       plain_env(), std::chrono::seconds{60});
  INFO("initdb: " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  // Durability stays on (fsync) although the cluster is throwaway: a restart
  // must keep what was committed, as in production.
  pg_ctl({"-o", "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_
                  + " -c max_connections=200",
          "start"});
  started_ = true;
}

private_postgres::~private_postgres() {
  if (started_) {
    run_process(as_owner({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "-w",
                          "stop"}),
                plain_env(), std::chrono::seconds{30});
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void private_postgres::pg_ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l",
                                dir_ + "/server.log", "-w", "-t", "60"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(as_owner(argv), plain_env(), std::chrono::seconds{90});
  INFO("pg_ctl " << args.back() << ": " << r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

std::string private_postgres::url() const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

void private_postgres::restart() {
  pg_ctl({"-m", "fast", "restart"});
}

} // namespace quel::test
