#include "app/media_backends.hpp"

#include "actors/fetch_actor.hpp"
#include "actors/generate_actor.hpp"
#include "actors/store_actor.hpp"
#include "adapters/generator/local_image_generator.hpp"
#include "adapters/storage/local_object_store.hpp"

namespace quel {

media_actors spawn_media_actors(caf::actor_system& sys, const worker_config& c,
                                const std::shared_ptr<worker_metrics>&) {
  media_actors out;
  if (c.storage_backend != "local")
    throw config_error("storage backend \"" + c.storage_backend
                       + "\" is not available in this build");
  if (c.generator_backend != "local")
    throw config_error("generator backend \"" + c.generator_backend
                       + "\" is not available in this build");
  // One thread-safe adapter behind each pool of detached actors: the local
  // backends block (disk, CPU), so they never run on the shared scheduler.
  std::shared_ptr<object_store> storage
    = std::make_shared<local_object_store>(c.storage_dir, c.storage_bucket);
  std::shared_ptr<image_generator> generator = std::make_shared<local_image_generator>(
    std::chrono::milliseconds(c.local_latency_ms));
  out.fetchers = spawn_pool<fetch_actor>(c.storage_threads, [&] {
    return sys.spawn<caf::detached>(fetch_actor_impl, storage);
  });
  out.storers = spawn_pool<store_actor>(c.storage_threads, [&] {
    return sys.spawn<caf::detached>(store_actor_impl, storage);
  });
  out.generators = spawn_pool<generate_actor>(c.generator_threads, [&] {
    return sys.spawn<caf::detached>(generate_actor_impl, generator);
  });
  out.stop = [fetchers = out.fetchers, storers = out.storers,
              generators = out.generators] {
    stop_pool(fetchers);
    stop_pool(storers);
    stop_pool(generators);
  };
  return out;
}

} // namespace quel
