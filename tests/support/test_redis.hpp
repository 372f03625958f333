#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct redisContext;

namespace quel::test {
class child_process;
}

/// Helpers for tests that need a real Redis. The shared test server is found
/// through QUEL_TEST_REDIS_URL (scripts/test.sh starts a throwaway one).
///
/// When the variable is missing: under CI=true (or CI=1) test_redis_url()
/// FAILs the test; otherwise it WARNs and returns "", and the test skips
/// itself, most simply with QUEL_REQUIRE_TEST_REDIS() as its first line.
/// Catch2 v2 has no SKIP, so a skipped test shows as passed with a warning.
namespace quel::test {

/// QUEL_TEST_REDIS_URL; "" (after a WARN) when unset outside CI; FAILs in CI.
std::string test_redis_url();

/// A raw connection to the test Redis for setting up and inspecting state,
/// independent of the adapter under test. Every call FAILs the test on error.
class test_redis {
public:
  /// Connects to test_redis_url() and FLUSHDBs its database.
  test_redis();
  /// Connects to another server, e.g. a redis_server_process (no FLUSHDB).
  explicit test_redis(const std::string& url);
  ~test_redis();
  test_redis(const test_redis&) = delete;
  test_redis& operator=(const test_redis&) = delete;

  void lpush(const std::string& list, const std::string& value);
  /// The whole list, index 0 (the LPUSH end) first.
  std::vector<std::string> lrange(const std::string& list);
  int64_t llen(const std::string& list);
  /// KEYS pattern, sorted.
  std::vector<std::string> keys(const std::string& pattern);
  void flush();

  /// Runs any command; returns the reply as text ("" for nil, integers in
  /// decimal, arrays joined by '\n'). FAILs on an error reply.
  std::string command(const std::vector<std::string>& args);
  /// PTTL of a key in milliseconds (-2: missing, -1: no expiry).
  int64_t pttl(const std::string& key);

private:
  void connect(const std::string& url);

  std::unique_ptr<redisContext, void (*)(redisContext*)> ctx_;
};

/// A private redis-server on a free loopback port, owned by one test, that the
/// test may kill and start again (outage tests). Killed on destruction.
class redis_server_process {
public:
  /// Starts redis-server with `extra_args` (e.g. {"--requirepass", "pw"}).
  explicit redis_server_process(std::vector<std::string> extra_args = {});
  ~redis_server_process();
  redis_server_process(const redis_server_process&) = delete;
  redis_server_process& operator=(const redis_server_process&) = delete;

  int port() const { return port_; }
  /// redis://127.0.0.1:<port>/<db>
  std::string url(int db = 0) const;
  /// Started and not killed since.
  bool running() const { return process_ != nullptr; }

  /// SIGKILLs the server (no clean shutdown) and reaps it.
  void kill();
  /// Starts it again on the same port and waits until it answers.
  void start();

private:
  int port_ = 0;
  std::unique_ptr<child_process> process_;
  std::string dir_;
  std::vector<std::string> extra_args_;
};

/// A loopback TCP port that was free a moment ago.
int free_tcp_port();

} // namespace quel::test

/// Skips (returns from) the current test when no test Redis is configured
/// outside CI; in CI the missing variable has already failed the test.
#define QUEL_REQUIRE_TEST_REDIS()                  \
  do {                                             \
    if (::quel::test::test_redis_url().empty())    \
      return;                                      \
  } while (false)
