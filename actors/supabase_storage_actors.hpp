#pragma once

#include "adapters/supabase/supabase_codec.hpp"
#include "messages/actor_types.hpp"
#include "messages/http_messages.hpp"

namespace quel {

/// Reads objects from Supabase Storage through the HTTP engine actor. Only
/// asynchronous requests, no CPU work: a cooperative actor serves many at
/// once. A missing object is worker_errc::object_missing; one larger than
/// the requested size is permanent (the cap is enforced while receiving).
fetch_actor::behavior_type supabase_fetch_actor_impl(fetch_actor::pointer self,
                                                     supabase_settings settings,
                                                     http_engine_actor engine);

/// Writes objects to Supabase Storage (POST with x-upsert: true, so writing
/// a key again overwrites it) through the HTTP engine actor.
store_actor::behavior_type supabase_store_actor_impl(store_actor::pointer self,
                                                     supabase_settings settings,
                                                     http_engine_actor engine);

} // namespace quel
