// /healthz reports a wedged actor system: the heartbeat actor runs on the
// shared scheduler, so when every scheduler thread is blocked its beat
// stops and the reply flips to 503, and back to 200 once a thread is free.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "actors/heartbeat_actor.hpp"
#include "actors/worker_metrics.hpp"
#include "app/http_endpoint.hpp"

using namespace quel;
using namespace std::chrono_literals;

namespace {

std::string healthz(const worker_metrics& m) {
  return http_endpoint_reply("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", m);
}

bool status_is(const std::string& reply, int status) {
  return reply.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0) == 0;
}

/// Polls until /healthz answers `status`; false after `limit`.
bool wait_for_status(const worker_metrics& m, int status, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (status_is(healthz(m), status))
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

} // namespace

TEST_CASE("/healthz answers 503 while every scheduler thread is blocked, 200 after",
          "[health][endpoint]") {
  constexpr size_t threads = 2;
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", threads);
  caf::actor_system sys{cfg};
  auto metrics = std::make_shared<worker_metrics>();
  metrics->health_stall_timeout = 300ms;

  // No heartbeat yet (the actor system is starting): healthy.
  CHECK(status_is(healthz(*metrics), 200));
  auto heartbeat = sys.spawn(heartbeat_actor_impl, metrics, heartbeat_interval(300ms));
  REQUIRE(wait_for_status(*metrics, 200, 2s));
  std::this_thread::sleep_for(500ms);  // beats keep it healthy past the bound
  CHECK(status_is(healthz(*metrics), 200));

  // Non-detached actors that sleep: twice as many as threads, so that work
  // stealing cannot leave a thread free for the heartbeat.
  auto blocked_for = 1500ms;
  for (size_t i = 0; i < 2 * threads; ++i) {
    auto blocker = sys.spawn([blocked_for](caf::event_based_actor*) -> caf::behavior {
      return {[blocked_for](int) { std::this_thread::sleep_for(blocked_for); }};
    });
    caf::anon_send(blocker, 1);
  }
  auto blocked_at = std::chrono::steady_clock::now();
  REQUIRE(wait_for_status(*metrics, 503, 1200ms));
  auto reply = healthz(*metrics);
  INFO(reply);
  CHECK(reply.find("stalled: the actor scheduler's last heartbeat was") != std::string::npos);
  CHECK(reply.find("(bound 0.3 s)") != std::string::npos);
  // The endpoint still answers the other paths meanwhile.
  CHECK(status_is(http_endpoint_reply("GET /metrics HTTP/1.1\r\n\r\n", *metrics), 200));

  // Once the blockers are done the beat resumes and /healthz recovers.
  REQUIRE(wait_for_status(*metrics, 200, 5s));
  CHECK(std::chrono::steady_clock::now() - blocked_at >= blocked_for - 300ms);

  // A heartbeat stopped on purpose (shutdown) is not a stall.
  caf::anon_send_exit(heartbeat, caf::exit_reason::user_shutdown);
  std::this_thread::sleep_for(600ms);
  CHECK(status_is(healthz(*metrics), 200));
}

TEST_CASE("/metrics carries the labelled families, process metrics and build info",
          "[metrics][endpoint]") {
  worker_metrics m;
  m.jobs.inc({"fashion", "completed"});
  m.job_duration.observe({"fashion", "completed"}, 1.5);
  auto reply = http_endpoint_reply("GET /metrics HTTP/1.1\r\n\r\n", m);
  INFO(reply.substr(0, 3000));
  CHECK(status_is(reply, 200));
  for (const char* needle :
       {"\nquel_jobs_taken_total 0\n",  // the first metrics keep their names
        "\nquel_jobs_total{module=\"fashion\",outcome=\"completed\"} 1\n",
        "\nquel_job_duration_seconds_bucket{module=\"fashion\",outcome=\"completed\","
        "le=\"2.5\"} 1\n",
        "\n# TYPE quel_model_call_duration_seconds histogram\n",
        "\n# TYPE quel_storage_call_duration_seconds histogram\n",
        "\nquel_credits_held 0\n", "\nquel_ready 0\n",
        "\n# TYPE process_resident_memory_bytes gauge\n",
        "\n# TYPE process_cpu_seconds_total counter\n", "\nprocess_open_fds ",
        "\nprocess_threads ", "\nquel_build_info{version=\""})
    CHECK(reply.find(needle) != std::string::npos);
}
