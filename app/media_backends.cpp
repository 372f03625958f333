#include "app/media_backends.hpp"

#include <vips/vips8>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "actors/fetch_actor.hpp"
#include "actors/gemini_generate_actor.hpp"
#include "actors/generate_actor.hpp"
#include "actors/http_engine_actor.hpp"
#include "actors/pool_supervisor.hpp"
#include "actors/store_actor.hpp"
#include "actors/supabase_storage_actors.hpp"
#include "adapters/gemini/image_convert.hpp"
#include "adapters/generator/local_image_generator.hpp"
#include "adapters/generator/noop_image_generator.hpp"
#include "adapters/generator/vips_runtime.hpp"
#include "adapters/storage/local_object_store.hpp"
#include "common/log.hpp"

namespace quel {

namespace {

void require(const std::string& value, const char* variable, const char* backend) {
  if (value.empty())
    throw config_error(std::string(variable) + " must be set when " + backend);
}

// Refuses an HTTP backend without its settings before anything is spawned:
// an exception after a detached actor exists would leave ~actor_system
// waiting for it.
void check_http_settings(const worker_config& c) {
  if (c.storage_backend == "supabase") {
    require(c.supabase_url, "QUEL_SUPABASE_URL", "QUEL_STORAGE=supabase");
    require(c.supabase_key, "QUEL_SUPABASE_KEY", "QUEL_STORAGE=supabase");
    require(c.storage_bucket, "QUEL_STORAGE_BUCKET", "QUEL_STORAGE=supabase");
  }
  if (c.generator_backend == "gemini") {
    require(c.gemini_api_key, "QUEL_GEMINI_API_KEY", "QUEL_GENERATOR=gemini");
    require(c.gemini_base_url, "QUEL_GEMINI_BASE_URL", "QUEL_GENERATOR=gemini");
    require(c.gemini_model, "QUEL_GEMINI_MODEL", "QUEL_GENERATOR=gemini");
  }
}

// An HTTP backend's request timeout, which also bounds its connect timeout.
template <class Settings>
Settings with_timeout(Settings s, std::chrono::milliseconds timeout) {
  s.timeout = timeout;
  s.connect_timeout = std::min(s.connect_timeout, timeout);
  return s;
}


gemini_settings gemini_settings_of(const worker_config& c) {
  gemini_settings s;
  s.base_url = c.gemini_base_url;
  s.api_key = c.gemini_api_key;
  s.model = c.gemini_model;
  s.max_image_pixels = c.settings.limits.max_image_pixels;
  return with_timeout(std::move(s), c.generator_timeout);
}

// libvips keeps every worker thread it ever started (8.14: a thread set that
// never shrinks) and starts them only when a conversion needs one, so the
// first bursts of replies would add threads. One worker per conversion (the
// generate actors already convert in parallel) and a warm-up on twice as
// many threads as there are actors size that set now, with room for the
// threads that are still finishing one conversion when the next starts: the
// worker's thread count then stays put under any load.
void warm_up_conversion(int parallel, output_format format) {
  std::string png;
  try {
    start_vips();
    vips_concurrency_set(1);
    auto image = vips::VImage::gaussnoise(512, 512).bandjoin({vips::VImage::xyz(512, 512)})
                   .cast(VIPS_FORMAT_UCHAR);
    void* out = nullptr;
    size_t size = 0;
    image.write_to_buffer(".png", &out, &size);
    png.assign(static_cast<const char*>(out), size);
    g_free(out);
  } catch (const std::exception& e) {
    vips_error_clear();  // the next conversion must not report this failure
    log::warn("libvips warm-up skipped", {{"error", e.what()}});
    return;
  }
  blob sample{std::move(png)};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2 * parallel; ++i)
    threads.emplace_back([&] {
      try {
        for (int round = 0; round < 4; ++round)
          convert_image(sample, format);
      } catch (const std::exception&) {
        // A warm-up failure only means the threads start later.
      }
    });
  for (auto& t : threads)
    t.join();
}

} // namespace

supabase_settings supabase_settings_of(const worker_config& c) {
  supabase_settings s;
  s.url = c.supabase_url;
  s.key = c.supabase_key;
  s.bucket = c.storage_bucket;
  return with_timeout(std::move(s), c.storage_timeout);
}

media_actors spawn_media_actors(caf::actor_system& sys, const worker_config& c,
                                const std::shared_ptr<worker_metrics>&, bool with_storage) {
  auto checked = c;
  if (!with_storage)
    checked.storage_backend = "local";  // its settings do not matter then
  check_http_settings(checked);
  media_actors out;
  bool http_storage = with_storage && c.storage_backend == "supabase";
  bool http_generator = c.generator_backend == "gemini";

  // One engine (one thread, one connection pool) for both HTTP backends.
  http_engine_actor engine;
  if (http_storage || http_generator)
    engine = sys.spawn<caf::detached>(http_engine_actor_impl, http_engine_options{});

  if (http_storage) {
    auto s = supabase_settings_of(c);
    log::info("Storage: Supabase", {{"url", s.url}, {"bucket", s.bucket},
                                    {"key_type", s.key.rfind("sb_secret_", 0) == 0
                                                   ? "secret" : "legacy"}});
    // Cooperative: they only wait for the engine, so a few serve thousands
    // of calls at once.
    out.fetchers = spawn_supervised_pool<fetch_actor>(
      sys, c.storage_threads, "fetch", [&sys, s, engine] {
        return sys.spawn(supabase_fetch_actor_impl, s, engine);
      });
    out.storers = spawn_supervised_pool<store_actor>(
      sys, c.storage_threads, "store", [&sys, s, engine] {
        return sys.spawn(supabase_store_actor_impl, s, engine);
      });
  } else if (with_storage) {
    // One thread-safe adapter behind each pool of detached actors: the local
    // backend blocks on the disk, so it never runs on the shared scheduler.
    // Without syncing, a power cut can lose images already committed and
    // charged: said at start-up, where an operator sees it.
    if (!c.storage_local_sync)
      log::warn("Storage: local objects are not synced to disk (storage.local_sync = false); "
                "a power cut can lose committed images");
    std::shared_ptr<object_store> storage = std::make_shared<local_object_store>(
      c.storage_dir, c.storage_bucket, beneath_mode::automatic,
      c.storage_local_sync ? disk_sync::on : disk_sync::off);
    out.fetchers = spawn_supervised_pool<fetch_actor>(
      sys, c.storage_threads, "fetch", [&sys, storage] {
        return sys.spawn<caf::detached>(fetch_actor_impl, storage);
      });
    out.storers = spawn_supervised_pool<store_actor>(
      sys, c.storage_threads, "store", [&sys, storage] {
        return sys.spawn<caf::detached>(store_actor_impl, storage);
      });
  }

  if (http_generator) {
    auto s = gemini_settings_of(c);
    warm_up_conversion(c.generator_threads, c.settings.format);
    log::info("Generator: Gemini", {{"base_url", s.base_url}, {"model", s.model}});
    // Detached: building request bodies and converting reply images is CPU
    // work; each actor still serves many calls at once.
    out.generators = spawn_supervised_pool<generate_actor>(
      sys, c.generator_threads, "generate", [&sys, s, engine] {
        return sys.spawn<caf::detached>(gemini_generate_actor_impl, s, engine);
      });
  } else if (c.generator_backend == "noop") {
    // The benchmarking backend: nothing blocks or computes per call, so the
    // actors run on the shared scheduler (no detached threads, no hand-off).
    log::info("Generator: noop (benchmarking: every image is the same 8x8 picture)");
    std::shared_ptr<image_generator> generator = std::make_shared<noop_image_generator>();
    out.generators = spawn_supervised_pool<generate_actor>(
      sys, c.generator_threads, "generate", [&sys, generator] {
        return sys.spawn(generate_actor_impl, generator);
      });
  } else {
    std::shared_ptr<image_generator> generator = std::make_shared<local_image_generator>(
      std::chrono::milliseconds(c.local_latency_ms), 768,
      c.settings.limits.max_image_pixels);
    out.generators = spawn_supervised_pool<generate_actor>(
      sys, c.generator_threads, "generate", [&sys, generator] {
        return sys.spawn<caf::detached>(generate_actor_impl, generator);
      });
  }

  out.stop = [fetchers = out.fetchers, storers = out.storers,
              generators = out.generators, engine] {
    stop_pool(fetchers);
    stop_pool(storers);
    stop_pool(generators);
    if (engine)
      caf::anon_send_exit(engine, caf::exit_reason::user_shutdown);
  };
  return out;
}

} // namespace quel
