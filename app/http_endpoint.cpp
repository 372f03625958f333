#include "app/http_endpoint.hpp"

#include <sys/socket.h>

#include <stdexcept>

#include <httplib.h>

namespace quel {

http_endpoint::http_endpoint(const std::string& addr,
                             std::shared_ptr<worker_metrics> metrics)
  : server_(std::make_unique<httplib::Server>()) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size())
    throw std::runtime_error("QUEL_HTTP_ADDR \"" + addr + "\" is not host:port (or off)");
  auto host = addr.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(addr.substr(colon + 1));
  } catch (const std::exception&) {
    throw std::runtime_error("QUEL_HTTP_ADDR \"" + addr + "\" has no valid port");
  }
  server_->Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->to_prometheus(), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [metrics](const httplib::Request&, httplib::Response& res) {
    bool ready = metrics->redis_up && metrics->database_up && !metrics->stopping;
    res.status = ready ? 200 : 503;
    std::string body = std::string{"redis "} + (metrics->redis_up ? "up" : "down")
                       + "\npostgresql " + (metrics->database_up ? "up" : "down")
                       + (metrics->stopping ? "\nstopping" : "") + "\n";
    res.set_content(body, "text/plain");
  });
  // httplib's default sets SO_REUSEPORT, which lets a second process bind
  // the same address silently; each process must have its own (rule 28).
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (!server_->bind_to_port(host.c_str(), port))
    throw std::runtime_error("cannot listen on QUEL_HTTP_ADDR " + addr
                             + " (address in use or not local)");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

http_endpoint::~http_endpoint() {
  server_->stop();
  if (thread_.joinable())
    thread_.join();
}

} // namespace quel
