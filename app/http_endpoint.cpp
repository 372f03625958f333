#include "app/http_endpoint.hpp"

#include "app/api_pool.hpp"
#include "app/dashboard_api.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <list>
#include <stdexcept>
#include <vector>

namespace quel {

namespace {

using clock = std::chrono::steady_clock;

/// One accepted client: its request head so far, then its reply.
struct connection {
  int fd = -1;
  clock::time_point deadline;
  std::string head;
  std::string reply;  // non-empty once the head is complete
  size_t sent = 0;
  uint64_t api_request = 0;  // waiting for the API pool's reply to this id
};

std::string response(int status, const char* reason, const std::string& body,
                     const char* content_type, bool with_body) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  r += "Content-Type: " + std::string(content_type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "Connection: close\r\n\r\n";
  if (with_body)
    r += body;
  return r;
}

/// host:port with a port 1..65535 (0 for tests: any free port), digits only.
std::pair<std::string, std::string> split_addr(const std::string& addr) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size())
    throw std::runtime_error("QUEL_HTTP_ADDR \"" + addr + "\" is not host:port (or off)");
  auto port = addr.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos
      || std::stol(port) > 65535)
    throw std::runtime_error("QUEL_HTTP_ADDR \"" + addr + "\" has no valid port");
  auto host = addr.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, port};
}

int listen_on(const std::string& addr) {
  auto [host, port] = split_addr(addr);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found) != 0)
    throw std::runtime_error("cannot listen on QUEL_HTTP_ADDR " + addr
                             + " (unknown host)");
  int fd = -1;
  for (auto* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0)
      continue;
    // SO_REUSEADDR only: SO_REUSEPORT would let a second process bind the
    // same address silently; each process must have its own (rule 28).
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0)
    throw std::runtime_error("cannot listen on QUEL_HTTP_ADDR " + addr
                             + " (address in use or not local)");
  return fd;
}

} // namespace

std::string http_endpoint_reply(const std::string& head, const worker_metrics& metrics) {
  auto line_end = head.find("\r\n");
  auto line = head.substr(0, line_end);
  auto first_space = line.find(' ');
  auto second_space = line.find(' ', first_space + 1);
  if (first_space == std::string::npos || second_space == std::string::npos
      || line.compare(second_space + 1, 5, "HTTP/") != 0)
    return response(400, "Bad Request", "bad request\n", "text/plain", true);
  auto method = line.substr(0, first_space);
  auto target = line.substr(first_space + 1, second_space - first_space - 1);
  target = target.substr(0, target.find('?'));
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only)
    return response(405, "Method Not Allowed", "GET or HEAD only\n", "text/plain", true);
  // The dashboard's page, script and style, from memory.
  if (auto r = parse_request_head(head))
    if (auto file = static_reply(r->path))
      return render_reply(*file, head_only);
  if (target == "/healthz") {
    // The process answers, but is its actor system still running?
    if (auto stalled = metrics.stalled_for()) {
      char body[160];
      std::snprintf(body, sizeof body,
                    "stalled: the actor scheduler's last heartbeat was %.1f s ago "
                    "(bound %.1f s)\n",
                    *stalled, metrics.health_stall_timeout.count() / 1000.0);
      return response(503, "Service Unavailable", body, "text/plain", !head_only);
    }
    return response(200, "OK", "ok\n", "text/plain", !head_only);
  }
  if (target == "/metrics")
    return response(200, "OK", metrics.to_prometheus(), "text/plain; version=0.0.4",
                    !head_only);
  if (target == "/readyz") {
    bool ready = metrics.redis_up && metrics.database_up && !metrics.stopping;
    std::string body = std::string{"redis "} + (metrics.redis_up ? "up" : "down")
                       + "\npostgresql " + (metrics.database_up ? "up" : "down")
                       + (metrics.stopping ? "\nstopping" : "") + "\n";
    return ready ? response(200, "OK", body, "text/plain", !head_only)
                 : response(503, "Service Unavailable", body, "text/plain", !head_only);
  }
  return response(404, "Not Found", "not found\n", "text/plain", !head_only);
}

http_endpoint::http_endpoint(const std::string& addr,
                             std::shared_ptr<worker_metrics> metrics,
                             http_endpoint_limits limits, std::unique_ptr<api_pool> api)
  : metrics_(std::move(metrics)), limits_(limits), api_(std::move(api)),
    loopback_(loopback_addr(addr)) {
  listen_fd_ = listen_on(addr);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    ::close(listen_fd_);
    throw std::runtime_error("cannot create the HTTP endpoint's eventfd");
  }
  thread_ = std::thread([this] { run(); });
}

int http_endpoint::port() const {
  sockaddr_storage a{};
  socklen_t len = sizeof(a);
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return -1;
  if (a.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
}

http_endpoint::~http_endpoint() {
  stop_ = true;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable())
    thread_.join();
  ::close(wake_fd_);
  ::close(listen_fd_);
}

void http_endpoint::run() {
  std::list<connection> conns;  // oldest first
  std::vector<pollfd> fds;
  std::vector<std::list<connection>::iterator> owners;
  char buf[4096];
  uint64_t next_api_request = 0;
  // fds[2] is the API pool's eventfd (or a placeholder that never fires).
  int api_fd = api_ ? api_->notify_fd() : -1;
  while (!stop_) {
    fds.assign({{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}, {api_fd, POLLIN, 0}});
    owners.clear();
    auto now = clock::now();
    auto wait = limits_.deadline;
    for (auto it = conns.begin(); it != conns.end(); ++it) {
      // A request waiting for the API pool polls for nothing (a hang-up
      // still shows) until its reply arrives.
      short events = it->api_request != 0 ? 0 : it->reply.empty() ? POLLIN : POLLOUT;
      fds.push_back({it->fd, events, 0});
      owners.push_back(it);
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::max(it->deadline - now, clock::duration::zero())));
    }
    ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()) + 1);
    now = clock::now();
    if (api_ && fds[2].revents != 0) {
      for (auto& [id, reply] : api_->take_done())
        for (auto& c : conns)
          if (c.api_request == id) {
            c.api_request = 0;
            c.reply = std::move(reply);
          }
    }
    for (size_t i = 0; i < owners.size(); ++i) {
      auto& c = *owners[i];
      if (c.api_request != 0) {
        if (fds[i + 3].revents & (POLLHUP | POLLERR))
          c.deadline = now;  // the client left
        continue;
      }
      if (fds[i + 3].revents == 0 && c.reply.empty())
        continue;
      if (c.reply.empty()) {
        auto n = ::recv(c.fd, buf, sizeof(buf), 0);
        if (n <= 0) {
          if (n == 0 || (errno != EAGAIN && errno != EINTR))
            c.deadline = now;  // closed or broken: dropped below
          continue;
        }
        c.head.append(buf, static_cast<size_t>(n));
        if (c.head.find("\r\n\r\n") != std::string::npos) {
          auto request = parse_request_head(c.head);
          bool dashboard = request && (is_api_path(request->path) || static_reply(request->path));
          if (dashboard && loopback_ && !loopback_host(*request)) {
            // DNS rebinding: a foreign name pointed at our loopback address.
            c.reply = render_reply(web_reply{403, "application/json",
                                              "{\"error\":\"this dashboard answers loopback "
                                              "host names only\"}", "no-store"},
                                   false);
          } else if (request && is_api_path(request->path) && api_) {
            // Handed to the pool; it answers within api_deadline or the
            // connection is closed. Too many waiting: refused at once.
            uint64_t id = ++next_api_request;
            if (api_->submit(id, c.head)) {
              c.api_request = id;
              c.deadline = std::max(c.deadline, now + limits_.api_deadline);
              continue;
            }
            c.reply = render_reply(web_reply{503, "application/json",
                                              "{\"error\":\"busy: try again\"}", "no-store"},
                                   false);
          } else {
            c.reply = http_endpoint_reply(c.head, *metrics_);
          }
        }
        else if (c.head.size() > limits_.max_head_bytes)
          c.reply = response(431, "Request Header Fields Too Large", "", "text/plain", true);
      }
      if (!c.reply.empty()) {
        auto n = ::send(c.fd, c.reply.data() + c.sent, c.reply.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0)
          c.sent += static_cast<size_t>(n);
        else if (errno != EAGAIN && errno != EINTR)
          c.deadline = now;
        if (c.sent == c.reply.size())
          c.deadline = now;  // done: one request per connection
      }
    }
    // Past its deadline (head or reply unfinished, or done): closed.
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->deadline <= now) {
        ::close(it->fd);
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
    if (fds[1].revents != 0) {
      while (true) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
          // Out of descriptors: free one so that the listener does not stay
          // readable in a busy loop, or pause when there is none to free.
          if (conns.empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          } else {
            ::close(conns.front().fd);
            conns.pop_front();
          }
          break;
        }
        if (fd < 0)
          break;
        if (conns.size() >= limits_.max_connections) {
          ::close(conns.front().fd);
          conns.pop_front();
        }
        conns.push_back({fd, clock::now() + limits_.deadline, {}, {}, 0, 0});
      }
    }
  }
  for (auto& c : conns)
    ::close(c.fd);
}

} // namespace quel
