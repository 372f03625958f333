#include "adapters/redis/redis_queue.hpp"

#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <mutex>

#include <hiredis/hiredis.h>

namespace quel {

void redis_context_deleter::operator()(redisContext* ctx) const noexcept {
  if (ctx != nullptr)
    redisFree(ctx);
}

void redis_reply_deleter::operator()(redisReply* reply) const noexcept {
  if (reply != nullptr)
    freeReplyObject(reply);
}

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  auto count = std::max<int64_t>(ms.count(), 1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(count / 1000);
  tv.tv_usec = static_cast<suseconds_t>((count % 1000) * 1000);
  return tv;
}

// hiredis writes with write(2): a write on a connection the server has reset
// would raise SIGPIPE and kill the worker instead of failing one call.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
      std::signal(SIGPIPE, SIG_IGN);
  });
}

std::string reply_text(const redisReply* r) {
  return std::string(r->str, r->len);
}

// Errors that say "this server cannot serve you right now" rather than "this
// command is wrong": the caller waits and retries like for a dropped link.
bool is_transient_error(const std::string& text) {
  for (const char* prefix : {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN"})
    if (text.rfind(prefix, 0) == 0)
      return true;
  return false;
}

std::optional<std::string> string_or_nil(const redisReply* r, const char* cmd) {
  if (r->type == REDIS_REPLY_NIL)
    return std::nullopt;
  if (r->type == REDIS_REPLY_STRING)
    return reply_text(r);
  throw std::runtime_error(std::string("Redis ") + cmd + ": unexpected reply type " +
                           std::to_string(r->type));
}

int64_t integer(const redisReply* r, const char* cmd) {
  if (r->type != REDIS_REPLY_INTEGER)
    throw std::runtime_error(std::string("Redis ") + cmd +
                             ": expected an integer reply, got type " + std::to_string(r->type));
  return r->integer;
}

std::vector<std::string> strings(const redisReply* r, const char* cmd) {
  if (r->type != REDIS_REPLY_ARRAY)
    throw std::runtime_error(std::string("Redis ") + cmd +
                             ": expected an array reply, got type " + std::to_string(r->type));
  std::vector<std::string> out;
  out.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i)
    out.push_back(reply_text(r->element[i]));
  return out;
}

/// Checks the reply of EXEC: the transaction ran and none of its commands
/// failed; returns the per-command replies.
const redisReply* exec_results(const redisReply* r, size_t expected) {
  if (r->type == REDIS_REPLY_NIL)
    throw std::runtime_error("Redis transaction was aborted");
  if (r->type != REDIS_REPLY_ARRAY || r->elements != expected)
    throw std::runtime_error("Redis EXEC: unexpected reply");
  for (size_t i = 0; i < r->elements; ++i)
    if (r->element[i]->type == REDIS_REPLY_ERROR)
      throw std::runtime_error("Redis: " + reply_text(r->element[i]));
  return r;
}

std::string decimal_seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms.count() / 1000),
                static_cast<long long>(ms.count() % 1000));
  return buf;
}

} // namespace

redis_queue::redis_queue(redis_endpoint endpoint, redis_timeouts timeouts)
    : endpoint_(std::move(endpoint)), timeouts_(timeouts) {
}

redis_queue::~redis_queue() = default;

void redis_queue::disconnect() noexcept {
  ctx_.reset();
}

void redis_queue::fail_io(const char* what) {
  const int saved_errno = errno;
  std::string reason = ctx_ ? std::string(ctx_->errstr) : std::string("no connection");
  if (ctx_ && ctx_->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
    reason = "timed out (" + reason + ")";
  // A context that saw an I/O error or EOF never heals (caf-0.17.md §7):
  // drop it so that the next call connects afresh.
  disconnect();
  throw redis_unavailable("Redis " + endpoint_.host + ":" + std::to_string(endpoint_.port) +
                          " " + what + ": " + reason);
}

void redis_queue::set_socket_timeout(std::chrono::milliseconds timeout) {
  if (redisSetTimeout(ctx_.get(), to_timeval(timeout)) != REDIS_OK)
    fail_io("setting the socket timeout failed");
}

void redis_queue::ensure_connected() {
  if (ctx_)
    return;
  ignore_sigpipe_once();
  ctx_.reset(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port,
                                     to_timeval(timeouts_.connect)));
  if (!ctx_)
    throw redis_unavailable("Redis: cannot allocate a connection");
  if (ctx_->err != 0)
    fail_io("unreachable");
  set_socket_timeout(timeouts_.io);
  redisEnableKeepAlive(ctx_.get());

  try {
    if (!endpoint_.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!endpoint_.username.empty())
        auth.push_back(endpoint_.username);
      auth.push_back(endpoint_.password);
      command(auth);
    }
    if (endpoint_.db != 0)
      command({"SELECT", std::to_string(endpoint_.db)});
  } catch (const redis_unavailable&) {
    // A half-set-up connection (not authenticated, wrong db) must not be used.
    disconnect();
    throw;
  } catch (const std::exception& e) {
    disconnect();
    throw std::runtime_error(std::string("Redis connection setup failed: ") + e.what());
  }
}

redis_reply_ptr redis_queue::command(const std::vector<std::string>& args) {
  ensure_connected();
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redis_reply_ptr reply(static_cast<redisReply*>(
      redisCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(), lens.data())));
  if (!reply)
    fail_io(("command " + args.front() + " failed").c_str());
  if (reply->type == REDIS_REPLY_ERROR) {
    auto text = reply_text(reply.get());
    if (is_transient_error(text))
      throw redis_unavailable("Redis " + args.front() + ": " + text);
    throw std::runtime_error("Redis " + args.front() + ": " + text);
  }
  return reply;
}

std::vector<redis_reply_ptr> redis_queue::pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  ensure_connected();
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(args.size()), argv.data(),
                               lens.data()) != REDIS_OK)
      fail_io("pipeline failed");
  }
  // Read every reply before judging any, so the connection stays in step
  // with the server even when one of them is an error.
  std::vector<redis_reply_ptr> replies;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr)
      fail_io("pipeline failed");
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i]->type != REDIS_REPLY_ERROR)
      continue;
    auto text = reply_text(replies[i].get());
    if (is_transient_error(text))
      throw redis_unavailable("Redis " + commands[i].front() + ": " + text);
    throw std::runtime_error("Redis " + commands[i].front() + ": " + text);
  }
  return replies;
}

std::optional<std::string> redis_queue::take(const std::string& queue,
                                             const std::string& processing,
                                             std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0)
    return string_or_nil(command({"LMOVE", queue, processing, "RIGHT", "LEFT"}).get(),
                         "LMOVE");

  ensure_connected();
  // The socket must outlast the server-side wait, or hiredis reports a
  // timeout and the context dies (caf-0.17.md §7).
  auto socket_timeout = std::max(timeouts_.io, timeout + timeouts_.blocking_margin);
  set_socket_timeout(socket_timeout);
  redis_reply_ptr reply;
  try {
    reply = command({"BLMOVE", queue, processing, "RIGHT", "LEFT", decimal_seconds(timeout)});
  } catch (...) {
    if (ctx_)
      set_socket_timeout(timeouts_.io);
    throw;
  }
  set_socket_timeout(timeouts_.io);
  return string_or_nil(reply.get(), "BLMOVE");
}

void redis_queue::ack(const std::string& processing, const std::string& id) {
  command({"LREM", processing, "1", id});
}

void redis_queue::requeue(const std::string& processing, const std::string& queue,
                          const std::string& id) {
  auto replies = pipeline({{"MULTI"},
                           {"LREM", processing, "1", id},
                           {"RPUSH", queue, id},
                           {"EXEC"}});
  exec_results(replies.back().get(), 2);
}

int64_t redis_queue::reclaim_all(const std::string& processing, const std::string& queue) {
  // take() pushes onto the LEFT of the processing list, so its RIGHT end holds
  // the id taken first. Moving LEFT -> RIGHT one at a time puts the newest at
  // the queue's consuming end first and the oldest last, i.e. outermost: the
  // ids are taken again in the order they were first taken, before anything
  // that was still waiting. Each LMOVE is atomic, so a crash halfway loses
  // nothing.
  int64_t moved = 0;
  while (string_or_nil(command({"LMOVE", processing, queue, "LEFT", "RIGHT"}).get(), "LMOVE"))
    ++moved;
  return moved;
}

void redis_queue::push(const std::string& queue, const std::string& id) {
  command({"LPUSH", queue, id});
}

void redis_queue::dead_letter(const dead_letter_entry& entry) {
  command({"LPUSH", redis_keys::dead_letter(), entry.to_json()});
}

std::vector<std::string> redis_queue::range(const std::string& list, int64_t start,
                                            int64_t stop) {
  return strings(command({"LRANGE", list, std::to_string(start), std::to_string(stop)}).get(),
                 "LRANGE");
}

int64_t redis_queue::length(const std::string& list) {
  return integer(command({"LLEN", list}).get(), "LLEN");
}

bool redis_queue::remove(const std::string& list, const std::string& value) {
  return integer(command({"LREM", list, "0", value}).get(), "LREM") > 0;
}

bool redis_queue::holds_any(const std::vector<std::string>& lists, const std::string& id) {
  if (lists.empty())
    return false;
  std::vector<std::vector<std::string>> commands;
  for (auto& list : lists)
    commands.push_back({"LPOS", list, id});
  for (auto& reply : pipeline(commands))
    if (reply->type == REDIS_REPLY_INTEGER)
      return true;  // a position; nil when absent
  return false;
}

void redis_queue::renew_node_lease(const std::string& node, std::chrono::milliseconds ttl) {
  using namespace std::chrono;
  auto now_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  auto ttl_ms = std::max<int64_t>(ttl.count(), 1);  // PX 0 is an error
  auto replies = pipeline({{"MULTI"},
                           {"SET", redis_keys::node_lease(node), std::to_string(now_ms), "PX",
                            std::to_string(ttl_ms)},
                           {"SADD", redis_keys::nodes(), node},
                           {"EXEC"}});
  exec_results(replies.back().get(), 2);
}

void redis_queue::drop_node_lease(const std::string& node) {
  command({"DEL", redis_keys::node_lease(node)});
}

std::optional<std::string> redis_queue::node_lease_value(const std::string& node) {
  return string_or_nil(command({"GET", redis_keys::node_lease(node)}).get(), "GET");
}

bool redis_queue::node_alive(const std::string& node) {
  return integer(command({"EXISTS", redis_keys::node_lease(node)}).get(), "EXISTS") > 0;
}

bool redis_queue::paused(const std::string& queue) {
  return integer(command({"SISMEMBER", redis_keys::paused(), queue}).get(), "SISMEMBER") > 0;
}

bool redis_queue::cancel_requested(const std::string& job_id) {
  return integer(command({"EXISTS", redis_keys::cancel(job_id)}).get(), "EXISTS") > 0;
}

void redis_queue::set_paused(const std::string& queue, bool paused) {
  command({paused ? "SADD" : "SREM", redis_keys::paused(), queue});
}

std::vector<std::string> redis_queue::paused_queues() {
  auto queues = strings(command({"SMEMBERS", redis_keys::paused()}).get(), "SMEMBERS");
  std::sort(queues.begin(), queues.end());
  return queues;
}

void redis_queue::request_cancel(const std::string& job_id, std::chrono::milliseconds ttl) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  command({"SET", redis_keys::cancel(job_id), std::to_string(now), "PX",
           std::to_string(std::max<int64_t>(ttl.count(), 1))});
}

void redis_queue::clear_cancel(const std::string& job_id) {
  command({"DEL", redis_keys::cancel(job_id)});
}

std::optional<std::string> redis_queue::index(const std::string& list, int64_t i) {
  auto reply = command({"LINDEX", list, std::to_string(i)});
  if (reply->type != REDIS_REPLY_STRING)
    return std::nullopt;
  return std::string(reply->str, reply->len);
}

std::vector<std::string> redis_queue::known_nodes() {
  auto nodes = strings(command({"SMEMBERS", redis_keys::nodes()}).get(), "SMEMBERS");
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

void redis_queue::forget_node(const std::string& node) {
  command({"SREM", redis_keys::nodes(), node});
}

bool redis_queue::has_processing_lists(const std::string& node) {
  // Node ids hold no glob characters (CONTRACT rule 27).
  auto pattern = redis_keys::processing(node, "*");
  std::string cursor = "0";
  do {
    auto reply = command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
      throw std::runtime_error("Redis SCAN: unexpected reply");
    cursor = reply_text(reply->element[0]);
    if (!strings(reply->element[1], "SCAN").empty())
      return true;
  } while (cursor != "0");
  return false;
}

bool redis_queue::ping() {
  try {
    auto reply = command({"PING"});
    return reply->type == REDIS_REPLY_STATUS && reply_text(reply.get()) == "PONG";
  } catch (const std::exception&) {
    return false;
  }
}

} // namespace quel
