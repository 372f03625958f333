#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/worker_context.hpp"
#include "adapters/supabase/supabase_codec.hpp"
#include "app/worker_config.hpp"

namespace quel {

/// The actors behind storage (fetch, store) and the model (generate) for
/// the configured backends, ready to put into the image_context.
struct media_actors {
  actor_pool<fetch_actor> fetchers;
  actor_pool<store_actor> storers;
  actor_pool<generate_actor> generators;
  /// Sends every actor spawned here an exit message (at shutdown).
  std::function<void()> stop;
};

/// Spawns the media actors for `config`: a pool of detached actors over a
/// blocking adapter for the local backends, asynchronous actors over the
/// HTTP engine for Supabase Storage and Gemini.
/// `with_storage = false` (a generator node): the generate actors only.
media_actors spawn_media_actors(caf::actor_system& sys, const worker_config& config,
                                const std::shared_ptr<worker_metrics>& metrics,
                                bool with_storage = true);

/// Supabase Storage settings of `config` (URL, key, bucket, timeouts), as
/// the storage actors use them; also for the dashboard's blocking store.
supabase_settings supabase_settings_of(const worker_config& config);

} // namespace quel
