#pragma once

#include <optional>
#include <string>

#include "adapters/storage/object_store.hpp"
#include "adapters/supabase/supabase_codec.hpp"

namespace quel {

/// Supabase Storage behind the blocking object_store interface, for callers
/// that run on threads of their own and may wait (the dashboard's API
/// threads, app/api_pool.*). The image actors use the asynchronous actors of
/// actors/supabase_storage_actors.* instead. Same requests, key checks and
/// reply classification (supabase_codec); each call runs its transfer on an
/// engine of its own, so one instance may be shared between threads.
class supabase_object_store : public object_store {
public:
  explicit supabase_object_store(supabase_settings settings);

  std::optional<blob> get(const std::string& key, int64_t max_bytes) override;
  void put(const std::string& key, const blob& bytes,
           const std::string& content_type) override;
  bool exists(const std::string& key) override;

private:
  supabase_settings settings_;
};

} // namespace quel
