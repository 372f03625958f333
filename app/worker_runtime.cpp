#include "app/worker_runtime.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <caf/all.hpp>

#include "actors/image_ledger.hpp"
#include "actors/job_store_actor.hpp"
#include "actors/pool_supervisor.hpp"
#include "actors/health_actor.hpp"
#include "actors/heartbeat_actor.hpp"
#include "actors/model_gate_actor.hpp"
#include "actors/queue_sampler_actor.hpp"
#include "actors/rate_limit_actor.hpp"
#include "actors/queue_actor.hpp"
#include "actors/queue_taker.hpp"
#include "actors/reconciler_actor.hpp"
#include "actors/redis_ops_actor.hpp"
#include "actors/shutdown_wait.hpp"
#include "actors/byte_budget_actor.hpp"
#include "actors/slots_actor.hpp"
#include "adapters/postgres/pg_admin.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "app/mesh_runtime.hpp"
#include <nlohmann/json.hpp>

#include "app/api_pool.hpp"
#include "common/log_text.hpp"
#include "app/dashboard_api.hpp"
#include "app/dashboard_backend.hpp"
#include "app/http_endpoint.hpp"
#include "adapters/storage/local_object_store.hpp"
#include "adapters/supabase/supabase_object_store.hpp"
#include "app/media_backends.hpp"
#include "common/log.hpp"

namespace quel {

namespace {

/// The dashboard's API threads (docs/OPERATIONS.md, "Dashboard"): two, each
/// with its own Redis and PostgreSQL connections, so that a slow query or a
/// thumbnail never holds the endpoint's poll thread (and /healthz).
std::unique_ptr<api_pool> make_dashboard_pool(const worker_config& c) {
  auto shared = std::make_shared<dashboard_shared>();
  shared->config = c;
  // Images for thumbnails: blocking reads are fine on the API threads.
  if (c.storage_backend == "local")
    shared->store = std::make_shared<local_object_store>(c.storage_dir, c.storage_bucket);
  else if (c.storage_backend == "supabase")
    shared->store = std::make_shared<supabase_object_store>(supabase_settings_of(c));
  return std::make_unique<api_pool>(2, 48, [shared]() -> api_pool::handler {
    auto backend = std::make_shared<live_dashboard_backend>(shared);
    return [backend, shared](const std::string& head) {
      auto request = parse_request_head(head);
      if (!request)
        return render_reply(web_reply{400, "application/json", "{\"error\":\"bad request\"}"},
                            false);
      bool head_only = request->method == "HEAD";
      try {
        return render_reply(handle_api(*request, *backend, shared->config.http_admin_token),
                            head_only);
      } catch (const std::exception& e) {
        // Redis, PostgreSQL or storage failed or timed out: this request
        // fails, the thread goes on (its connections reopen lazily).
        nlohmann::json body{{"error", "unavailable: "
                                        + escape_controls(redact_and_clip(e.what(), 300))}};
        return render_reply(web_reply{503, "application/json", body.dump()}, head_only);
      }
    };
  });
}

/// How long past the shutdown deadline (or past the last id settled) the
/// process still waits for detached actors: ample for one that is not stuck
/// (it ends as soon as its current call returns), short enough that a model
/// call blocking for minutes cannot hold the exit.
constexpr std::chrono::milliseconds shutdown_grace{300};

/// Refuses a QUEL_NODE_ID that a live process uses (rule 27): a live worker
/// renews its node lease every housekeeping interval, a dead one's lease
/// only waits to expire. Watching the lease for a few intervals tells them
/// apart, so a restarted worker still takes its own ids back at once.
void check_node_id_free(const redis_endpoint& endpoint, const worker_settings& s) {
  redis_queue redis{endpoint};
  std::optional<std::string> first;
  try {
    first = redis.node_lease_value(s.node_id);
  } catch (const redis_unavailable&) {
    return; // Redis down: the takers wait for it; nothing to compare with
  }
  if (!first)
    return;
  auto watch = std::min(s.housekeeping_interval * 3, s.lease_ttl);
  std::this_thread::sleep_for(watch);
  auto second = redis.node_lease_value(s.node_id);
  if (second && *second != *first)
    throw config_error("QUEL_NODE_ID \"" + s.node_id
                       + "\" is in use by a live worker process; give each process its own");
}

bool run_actor_system(const worker_config& c, const redis_endpoint& endpoint,
                      const std::shared_ptr<worker_metrics>& metrics,
                      const sigset_t& signals);
void hand_back_leftovers(const worker_config& c, const redis_endpoint& endpoint);

} // namespace

int run_worker(const worker_config& c) {
  // Signals are taken by one thread with sigwait; every other thread
  // (CAF's, libcurl's, the HTTP endpoint's) inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto endpoint = redis_endpoint::parse(c.redis_url);
  check_node_id_free(endpoint, c.settings);

  auto metrics = std::make_shared<worker_metrics>();
  metrics->health_stall_timeout = c.health_stall_timeout;
  std::unique_ptr<http_endpoint> http;
  if (c.http_addr != "off")
    http = std::make_unique<http_endpoint>(c.http_addr, metrics, http_endpoint_limits{},
                                           make_dashboard_pool(c));

  bool all_ended = run_actor_system(c, endpoint, metrics, signals);
  hand_back_leftovers(c, endpoint);
  log::info("Worker stopped");
  if (!all_ended) {
    // Threads of the abandoned actor system still run (the stuck calls):
    // static destructors must not run under them.
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}

namespace {

/// The actor system from start to a settled stop. Returns true once every
/// actor, detached ones included, has terminated; false when some are still
/// stuck in a blocking call at the wait limit (shutdown_wait.hpp): their
/// system is then left alive, never destroyed, and the caller must end the
/// process with std::_Exit after handing the node's ids back.
bool run_actor_system(const worker_config& c, const redis_endpoint& endpoint,
                      const std::shared_ptr<worker_metrics>& metrics,
                      const sigset_t& signals) {
  auto give_up = std::make_shared<std::atomic<bool>>(false);

  // Both on the heap: they are abandoned, not destroyed, when a detached
  // actor is stuck in a blocking call past the shutdown deadline (the system
  // keeps a reference to its configuration).
  auto cfg_owner = std::make_unique<caf::actor_system_config>();
  auto& cfg = *cfg_owner;
  auto threads = std::max(2u, std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
  // A shared queue whose idle threads wait on a condition variable, not
  // CAF's default work stealing: an idle work-stealing thread polls (100
  // tight tries, then 500 more with 50 us sleeps between them, then 10 ms
  // timed waits), and this worker's scheduler threads go idle many times per
  // image, whenever every actor waits for a detached actor (PostgreSQL,
  // disk, HTTP). The polling was about a sixth of the worker's CPU on 2
  // cores (nanosleep and context switches in the profile) and took CPU from
  // PostgreSQL beside it; waking a waiting thread is one futex call, and
  // with 2 threads the shared queue's lock is not contended
  // (docs/PERFORMANCE.md, "Scheduler").
  cfg.set("scheduler.policy", caf::atom("sharing"));
  if (c.mesh.networked())
    configure_mesh(cfg, c.mesh);
  auto sys_owner = std::make_unique<caf::actor_system>(cfg);
  auto& sys = *sys_owner;
  // Before any detached actor: publishing is what can still fail here.
  mesh_actors mesh;
  if (c.mesh.enabled)
    mesh = start_mesh(sys, c, endpoint);

  // First: it is the spawn that can still refuse the configuration, and an
  // exception after detached actors exist would leave ~actor_system waiting.
  auto media = spawn_media_actors(sys, c, metrics);
  auto ctx = std::make_shared<job_context>();
  ctx->settings = c.settings;
  ctx->modules = c.catalog;
  ctx->metrics = metrics;
  auto& stages = ctx->stages;
  stages.image_retry = c.settings.image_retry;
  stages.max_input_bytes = c.settings.limits.max_input_bytes;
  stages.metrics = metrics;
  auto& images = stages.images;
  images.format = c.settings.format;
  // Supervised pools: a database actor that dies anyway is replaced. The
  // spawn functions capture by value, as they run whenever one is replaced.
  ctx->job_stores = spawn_supervised_pool<job_store_actor>(
    sys, c.database_connections, "job_store",
    [&sys, url = c.database_url, settings = c.settings, metrics, give_up] {
      return sys.spawn<caf::detached>(job_store_actor_impl, std::make_shared<pg_store>(url),
                                      settings, metrics, give_up);
    });
  auto shards = spawn_supervised_pool<image_ledger_actor>(
    sys, c.credit_shards, "image_ledger_shard",
    [&sys, url = c.database_url, metrics, give_up] {
      return sys.spawn<caf::detached>(image_ledger_shard_impl, std::make_shared<pg_store>(url),
                                      metrics, give_up);
    });
  images.ledger = sys.spawn(image_ledger_impl, shards);
  images.fetchers = media.fetchers;
  images.storers = media.storers;
  images.metrics = metrics;
  // Every model call passes the gate: the fleet-wide rate limit (its Redis
  // calls on a detached actor of their own) and the call latency metric.
  rate_limit_actor limiter;
  if (c.max_requests_per_minute > 0)
    limiter = sys.spawn<caf::detached>(rate_limit_actor_impl,
                                       std::make_shared<redis_queue>(endpoint),
                                       c.max_requests_per_minute);
  // With mesh.generators, behind the gate (so the limit counts each call
  // once) a router sends the calls to generator nodes.
  generator_router_actor generator_router;
  auto model_calls = route_model_calls(sys, c, media.generators, generator_router,
                                       endpoint);
  auto model_gate = sys.spawn(model_gate_impl, model_calls, limiter, metrics);
  images.generators = actor_pool<generate_actor>({model_gate});
  stages.image_slots = sys.spawn(slots_actor_impl, c.max_inflight_images);
  // One budget for what images hold before they start (the admissions,
  // in arrival order) and for model replies as they arrive. One reply cap
  // is kept back from admissions so that a paused reply can always finish.
  auto in_flight_bytes = std::make_shared<byte_budget>(c.max_inflight_bytes,
                                                          gemini_max_reply_bytes);
  stages.image_bytes = sys.spawn(byte_budget_actor_impl, in_flight_bytes);
  images.reply_budget = in_flight_bytes;
  // Only Gemini limits the request.
  stages.max_request_bytes = c.generator_backend == "gemini" ? gemini_max_request_bytes : 0;
  auto redis_ops = sys.spawn<caf::detached>(redis_ops_impl,
                                            std::make_shared<redis_queue>(endpoint),
                                            metrics, give_up);
  ctx->redis = redis_ops;

  auto health = sys.spawn<caf::detached>(health_actor_impl, c.database_url, metrics,
                                        c.settings.housekeeping_interval);
  // On the shared scheduler: /healthz fails when its beat stops.
  auto heartbeat = sys.spawn(heartbeat_actor_impl, metrics,
                             heartbeat_interval(c.health_stall_timeout));
  // Every queue of the modules file, served here or not: a backlog that no
  // node serves is what an alert must see.
  std::vector<std::string> queues;
  for (auto& m : c.known_modules.all())
    if (std::find(queues.begin(), queues.end(), m.queue) == queues.end())
      queues.push_back(m.queue);
  auto sampler = sys.spawn<caf::detached>(
    queue_sampler_impl, std::make_shared<redis_queue>(endpoint), c.database_url,
    std::move(queues), metrics,
    std::max(c.settings.housekeeping_interval, std::chrono::milliseconds(1000)));
  reconciler_actor reconciler;
  if (c.reconcile_interval.count() > 0)
    reconciler = sys.spawn<caf::detached>(reconciler_impl, c.database_url,
                                          std::make_shared<redis_queue>(endpoint),
                                          c.known_modules, c.reconcile_interval,
                                          c.reconcile_age.count() / 1000.0);

  auto info = c.describe();
  log::info("Starting quel-worker", info);
  // Each taker blocks in BLMOVE, so it runs detached on a connection of its own.
  taker_spawner spawn_taker = [&sys, endpoint, timeout = c.settings.take_timeout,
                               metrics](job_ticket blank, queue_actor parent) {
    return sys.spawn<caf::detached>(queue_taker_impl, std::make_shared<redis_queue>(endpoint),
                                    std::move(blank), std::move(parent), timeout, metrics);
  };
  auto queue = sys.spawn(queue_actor_impl, job_context_ptr{ctx}, std::move(spawn_taker),
                         redis_ops);

  std::atomic<bool> done{false};
  // steady_clock ticks of the first SIGTERM/SIGINT; 0: none (yet).
  std::atomic<std::chrono::steady_clock::rep> stop_requested{0};
  std::thread signal_thread([&] {
    while (!done) {
      timespec wait{0, 200 * 1000 * 1000};
      int sig = sigtimedwait(&signals, nullptr, &wait);
      if (sig == SIGTERM || sig == SIGINT) {
        std::chrono::steady_clock::rep none = 0;
        stop_requested.compare_exchange_strong(
          none, std::chrono::steady_clock::now().time_since_epoch().count());
        log::info(sig == SIGTERM ? "SIGTERM received" : "SIGINT received");
        metrics->stopping = true;
        caf::anon_send(queue, stop_atom::value);
      }
    }
  });

  {
    caf::scoped_actor self{sys};
    self->monitor(queue);
    self->receive([](const caf::down_msg&) {});
  }
  metrics->stopping = true;
  *give_up = true;
  done = true;
  signal_thread.join();

  // The mesh first: the registry withdraws this node's address as it exits,
  // so peers do not take over a node that stopped cleanly.
  mesh.stop();
  caf::anon_send_exit(redis_ops, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(health, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sampler, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(model_gate, caf::exit_reason::user_shutdown);
  if (generator_router)
    caf::anon_send_exit(generator_router, caf::exit_reason::user_shutdown);
  if (limiter)
    caf::anon_send_exit(limiter, caf::exit_reason::user_shutdown);
  if (reconciler)
    caf::anon_send_exit(reconciler, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(images.ledger, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(stages.image_slots, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(stages.image_bytes, caf::exit_reason::user_shutdown);
  stop_pool(ctx->job_stores);
  stop_pool(shards);
  media.stop();
  caf::anon_send_exit(heartbeat, caf::exit_reason::user_shutdown);

  // Every id is settled. What may still run: a taker's last BLMOVE, and
  // pool actors inside a blocking call whose requester is gone (a model
  // call of a job handed back at the deadline). ~actor_system would wait
  // for those however long they take; past the limit they are abandoned.
  auto settled = std::chrono::steady_clock::now();
  std::optional<steady_time> stopped;
  if (auto ticks = stop_requested.load(); ticks != 0)
    stopped = steady_time{std::chrono::steady_clock::duration{ticks}};
  auto limit = actors_wait_limit(stopped, settled, c.settings.shutdown_deadline,
                                 c.settings.take_timeout, shutdown_grace);
  if (await_actors_until(sys, limit))
    return true;  // ~actor_system has nothing left to wait for
  log::warn("Shutdown: abandoning actors stuck in blocking calls; their jobs are "
            "handed back",
            {{"actors", std::to_string(sys.registry().running())}});
  // Never destroyed: its destructor would wait for the stuck calls.
  static_cast<void>(sys_owner.release());
  static_cast<void>(cfg_owner.release());
  return false;
}

/// After the last actor (or the wait limit, which outlasts the takers' last
/// BLMOVE): ids still in this node's processing lists were taken but never
/// started (a taker's final BLMOVE, which may even re-take
/// an id just handed back), so they go back to their queues; then the node
/// lease is dropped, so no other worker waits for it to expire.
void hand_back_leftovers(const worker_config& c, const redis_endpoint& endpoint) {
  try {
    redis_queue redis{endpoint};
    int64_t returned = 0;
    for (auto& m : c.catalog.all())
      returned += redis.reclaim_all(redis_keys::processing(c.settings.node_id, m.queue),
                                    m.queue);
    if (returned > 0)
      log::info("Returned ids taken at shutdown to their queues",
                {{"ids", std::to_string(returned)}});
    redis.drop_node_lease(c.settings.node_id);
  } catch (const std::exception& e) {
    // The reaper of another worker, or this node's next start, does it.
    log::warn("Could not hand back this node's ids at exit", {{"error", e.what()}});
  }
}

} // namespace

} // namespace quel
