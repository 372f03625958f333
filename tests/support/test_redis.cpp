#include "tests/support/test_redis.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <hiredis/hiredis.h>

#include "tests/support/child_process.hpp"
#include "tests/support/process_env.hpp"

namespace quel::test {

namespace {

struct parsed_url {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;
  std::string password;
};

// Deliberately small and independent of the adapter's parser, so a bug there
// cannot hide itself in the tests. Handles what test URLs look like.
parsed_url parse_url(const std::string& url) {
  parsed_url p;
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0)
    FAIL("test Redis URL must start with redis://");
  auto rest = url.substr(scheme.size());
  auto at = rest.rfind('@');
  if (at != std::string::npos) {
    auto userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    p.user = userinfo.substr(0, colon);
    if (colon != std::string::npos)
      p.password = userinfo.substr(colon + 1);
  }
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    auto db = rest.substr(slash + 1);
    if (!db.empty())
      p.db = std::stoi(db);
    rest = rest.substr(0, slash);
  }
  auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    p.port = std::stoi(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  if (!rest.empty())
    p.host = rest;
  return p;
}

std::string reply_to_text(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0)
          out += '\n';
        out += reply_to_text(r->element[i]);
      }
      return out;
    }
    default:
      return {};
  }
}

void free_context(redisContext* c) {
  if (c != nullptr)
    redisFree(c);
}

bool ping(int port) {
  timeval tv{0, 200000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (c != nullptr && c->err == 0) {
    redisSetTimeout(c, tv);
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    // NOAUTH (a server started with --requirepass) is an answer too.
    ok = r != nullptr;
    if (r != nullptr)
      freeReplyObject(r);
  }
  free_context(c);
  return ok;
}

} // namespace

std::string test_redis_url() {
  const char* url = std::getenv("QUEL_TEST_REDIS_URL");
  if (url != nullptr && *url != '\0')
    return url;
  if (running_in_ci())
    FAIL("QUEL_TEST_REDIS_URL is not set (CI=true): run the tests through scripts/test.sh");
  WARN("QUEL_TEST_REDIS_URL is not set: skipping this test (scripts/test.sh sets it)");
  return {};
}

test_redis::test_redis() : ctx_(nullptr, free_context) {
  auto url = test_redis_url();
  if (url.empty())
    FAIL("test_redis needs QUEL_TEST_REDIS_URL (use QUEL_REQUIRE_TEST_REDIS() first)");
  connect(url);
  flush();
}

test_redis::test_redis(const std::string& url) : ctx_(nullptr, free_context) {
  connect(url);
}

test_redis::~test_redis() = default;

void test_redis::connect(const std::string& url) {
  auto p = parse_url(url);
  timeval tv{5, 0};
  ctx_.reset(redisConnectWithTimeout(p.host.c_str(), p.port, tv));
  if (!ctx_ || ctx_->err != 0)
    FAIL("cannot connect to test Redis at " << p.host << ":" << p.port << ": "
                                            << (ctx_ ? ctx_->errstr : "allocation failed"));
  redisSetTimeout(ctx_.get(), timeval{30, 0});
  if (!p.password.empty()) {
    if (p.user.empty())
      command({"AUTH", p.password});
    else
      command({"AUTH", p.user, p.password});
  }
  command({"SELECT", std::to_string(p.db)});
}

std::string test_redis::command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  std::unique_ptr<redisReply, void (*)(void*)> reply(
      static_cast<redisReply*>(redisCommandArgv(ctx_.get(), static_cast<int>(args.size()),
                                                argv.data(), lens.data())),
      freeReplyObject);
  if (!reply)
    FAIL("test Redis: " << args.front() << " failed: " << ctx_->errstr);
  if (reply->type == REDIS_REPLY_ERROR)
    FAIL("test Redis: " << args.front() << ": " << std::string(reply->str, reply->len));
  return reply_to_text(reply.get());
}

void test_redis::lpush(const std::string& list, const std::string& value) {
  command({"LPUSH", list, value});
}

std::vector<std::string> test_redis::lrange(const std::string& list) {
  std::vector<const char*> argv{"LRANGE", list.c_str(), "0", "-1"};
  std::vector<size_t> lens{6, list.size(), 1, 2};
  std::unique_ptr<redisReply, void (*)(void*)> reply(
      static_cast<redisReply*>(redisCommandArgv(ctx_.get(), 4, argv.data(), lens.data())),
      freeReplyObject);
  if (!reply || reply->type != REDIS_REPLY_ARRAY)
    FAIL("test Redis: LRANGE " << list << " failed");
  std::vector<std::string> out;
  for (size_t i = 0; i < reply->elements; ++i)
    out.emplace_back(reply->element[i]->str, reply->element[i]->len);
  return out;
}

int64_t test_redis::llen(const std::string& list) {
  return std::stoll(command({"LLEN", list}));
}

std::vector<std::string> test_redis::keys(const std::string& pattern) {
  std::vector<std::string> out;
  std::istringstream in(command({"KEYS", pattern}));
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  std::sort(out.begin(), out.end());
  return out;
}

void test_redis::flush() {
  command({"FLUSHDB"});
}

int64_t test_redis::pttl(const std::string& key) {
  return std::stoll(command({"PTTL", key}));
}

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  REQUIRE(ok);
  return ntohs(addr.sin_port);
}

redis_server_process::redis_server_process(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
  dir_ = make_temp_dir("quel-redis-");
  port_ = free_tcp_port();
  try {
    start();
  } catch (...) {
    // The destructor does not run for a half-built object.
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

redis_server_process::~redis_server_process() {
  process_.reset();  // SIGKILLs and reaps the server
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string redis_server_process::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

void redis_server_process::kill() {
  process_.reset();  // SIGKILL, no clean shutdown, then reaped
}

void redis_server_process::start() {
  REQUIRE(!process_);
  // Where Debian's redis-server package (scripts/install-deps.sh) puts it.
  std::vector<std::string> args{"/usr/bin/redis-server", "--bind", "127.0.0.1", "--port",
                                std::to_string(port_), "--save", "", "--appendonly", "no",
                                "--daemonize", "no", "--dir", dir_,
                                "--logfile", dir_ + "/redis.log"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  // A child_process dies with the test binary even if the test crashes, and
  // its output goes to a file, not the test's stdout (that would hang `| tail`).
  process_ = std::make_unique<child_process>(args, environment_without_quel(),
                                             dir_ + "/redis.out");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    bool answered = ping(port_);
    // Checked after the ping: an answer from a stranger on a reused port
    // does not count if our own server has died.
    if (!process_->running()) {
      auto end = process_->end();
      process_.reset();
      FAIL("redis-server on port " << port_ << " exited at start (" << describe(end)
                                   << "):\n" << read_file(dir_ + "/redis.log")
                                   << read_file(dir_ + "/redis.out"));
    }
    if (answered)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  FAIL("redis-server on port " << port_ << " did not answer within 10 s");
}

} // namespace quel::test
