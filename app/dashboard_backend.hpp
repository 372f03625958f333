#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "app/dashboard_api.hpp"
#include "app/worker_config.hpp"

namespace quel {

class object_store;
class pg_job_admin;
class redis_queue;

/// Thumbnails already made, by object key: a bounded LRU shared by the API
/// threads (the key of a committed output never changes its bytes).
class thumbnail_cache {
public:
  explicit thumbnail_cache(size_t max_bytes) : max_bytes_(max_bytes) {}
  std::optional<std::string> find(const std::string& key);
  void put(const std::string& key, std::string bytes);

private:
  std::mutex mutex_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<std::pair<std::string, std::string>> order_;  // most recent first
  std::map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

/// What the API threads share: the configuration, the cache and the store.
struct dashboard_shared {
  worker_config config;
  thumbnail_cache thumbnails{32u << 20};
  /// The local bucket; nullptr with Supabase Storage (images are then not
  /// shown: see docs/OPERATIONS.md).
  std::shared_ptr<object_store> store;
};

/// The dashboard's reads and actions against the real Redis, PostgreSQL and
/// storage, for one API thread: its own connections, each with short
/// timeouts so a stuck server costs a request, not the thread.
class live_dashboard_backend : public dashboard_backend {
public:
  explicit live_dashboard_backend(std::shared_ptr<dashboard_shared> shared);
  ~live_dashboard_backend() override;

  nlohmann::json overview() override;
  nlohmann::json jobs(int limit, int offset, const std::optional<std::string>& status) override;
  std::optional<nlohmann::json> job(const std::string& job_id) override;
  nlohmann::json dead_letters(int limit, int offset) override;
  std::optional<image_reply> image(const image_request& request) override;
  nlohmann::json act(const std::string& what, const std::string& target) override;

private:
  std::shared_ptr<dashboard_shared> shared_;
  std::unique_ptr<redis_queue> redis_;
  std::unique_ptr<pg_job_admin> db_;
};

/// A scaled-down copy (at most `edge` pixels on its longer side) of an
/// image, as WebP; throws when the bytes are no image or too large.
std::string make_thumbnail(const std::string& bytes, int edge, int64_t max_pixels);

/// image/png, image/jpeg or image/webp from the first bytes; empty for
/// anything else (which is then never served).
std::string image_type_of(const std::string& bytes);

} // namespace quel
