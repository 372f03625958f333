// The dashboard's images with Supabase Storage: the worker serves a job's
// output as a thumbnail and at full size, read from the storage stand-in by
// the API threads with the worker's own key (the browser never gets it).
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "tests/integration/worker_endpoint_clients.hpp"
#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;
using namespace std::chrono_literals;

namespace {

/// GET `path` with a loopback Host (a loopback dashboard refuses others).
std::string dashboard_get(int port, const std::string& path) {
  int fd = connect_to(port);
  if (fd < 0)
    return "";
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port)
                    + "\r\n\r\n";
  (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  auto reply = read_until_closed(fd, 10000ms);
  ::close(fd);
  return reply;
}

} // namespace

TEST_CASE("the dashboard shows a job's image stored in Supabase Storage",
          "[e2e][http][supabase][dashboard]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto model = fx.add_input("inputs/model.png", sample_image("png", 0), std::nullopt);
  auto [job, org] = make_http_job(fx, "dashboard picture", 1, {model}, 10);
  fx.drain();
  check_http_job(fx, {job, org, 10, 1, 1, {}});

  endpoint_worker worker(fx.h(), fx.env());
  auto thumb = dashboard_get(worker.port(), "/api/image?job=" + job + "&stage=0&image=0");
  INFO(thumb.substr(0, 400));
  CHECK(thumb.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(thumb.find("Content-Type: image/webp") != std::string::npos);
  auto full = dashboard_get(worker.port(),
                            "/api/image?job=" + job + "&stage=0&image=0&size=full");
  CHECK(full.rfind("HTTP/1.1 200", 0) == 0);
  // The input the job names is served too; one it does not name is not.
  auto input = dashboard_get(worker.port(), "/api/image?job=" + job + "&attach="
                                              + std::to_string(model) + "&size=full");
  CHECK(input.rfind("HTTP/1.1 200", 0) == 0);
  auto other = dashboard_get(worker.port(), "/api/image?job=" + job + "&attach=999999");
  CHECK(other.rfind("HTTP/1.1 200", 0) != 0);
  // The key stays on the server side.
  for (const auto& reply : {thumb, full, input})
    CHECK(reply.find(fx.env().at("QUEL_SUPABASE_KEY")) == std::string::npos);
  CHECK(worker.terminate_within(30s));
}
