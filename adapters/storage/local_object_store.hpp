#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "adapters/storage/object_store.hpp"
#include "adapters/storage/open_beneath.hpp"

namespace quel {

/// Object storage in a directory on disk: object KEY of bucket BUCKET is the
/// file ROOT/BUCKET/KEY (CONTRACT.md section 4). Safe to share between
/// threads; concurrent calls on different keys do not interfere. Keys are
/// resolved below the bucket directory without following any symlink, and
/// only regular files are objects (docs/SECURITY.md, "Paths").
class local_object_store : public object_store {
public:
  /// Uses ROOT/BUCKET as the bucket directory; creates nothing until a put.
  /// `mode` chooses how keys are resolved (tests force the fallback).
  local_object_store(std::filesystem::path root_dir, std::string bucket,
                     beneath_mode mode = beneath_mode::automatic);

  std::optional<blob> get(const std::string& key, int64_t max_bytes) override;

  /// Writes atomically: readers see the old object or the new one, never a
  /// half-written file, and a crash leaves no partial object in the bucket.
  /// A new key is written as an unnamed file linked into place (O_TMPFILE);
  /// replacing an object (or a file system without O_TMPFILE) goes through a
  /// staging file renamed over it. Neither syncs to disk (see RELIABILITY.md).
  /// `content_type` is not stored (the key's extension carries the format).
  void put(const std::string& key, const blob& bytes,
           const std::string& content_type) override;

  bool exists(const std::string& key) override;

  /// The file that holds `key`; throws storage_error (not retryable) when
  /// the key is malformed or would leave the bucket directory.
  std::filesystem::path path_of(const std::string& key) const;

  /// Directory of in-progress writes, outside every bucket.
  const std::filesystem::path& staging_dir() const { return staging_dir_; }

private:
  std::filesystem::path temp_path() const;
  void remove_stale_staging_files() const;
  bool link_unnamed(int parent, const std::string& leaf, const blob& bytes,
                    const std::filesystem::path& target) const;
  /// The bucket directory's descriptor; -1 when it does not exist and
  /// `create` is false (it is created when set).
  int open_bucket(bool create) const;

  std::filesystem::path bucket_dir_;
  std::filesystem::path staging_dir_;
  beneath_mode mode_;
  mutable std::atomic<uint64_t> temp_counter_{0};
  mutable std::atomic<bool> unnamed_unsupported_{false};
};

} // namespace quel
