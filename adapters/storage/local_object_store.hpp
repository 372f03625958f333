#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "adapters/storage/disk_sync.hpp"
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
  /// `mode` chooses how keys are resolved (tests force the fallback);
  /// `sync` whether a put returns only once the object is on disk
  /// (storage.local_sync).
  local_object_store(std::filesystem::path root_dir, std::string bucket,
                     beneath_mode mode = beneath_mode::automatic,
                     disk_sync sync = disk_sync::on);

  std::optional<blob> get(const std::string& key, int64_t max_bytes) override;

  /// Writes atomically: readers see the old object or the new one, never a
  /// half-written file, and a crash leaves no partial object in the bucket.
  /// A new key is written as an unnamed file linked into place (O_TMPFILE);
  /// replacing an object (or a file system without O_TMPFILE) goes through a
  /// staging file renamed over it. With disk_sync::on the bytes are synced
  /// before the name is published and the directory (and every directory
  /// made for the key) after, so a returned put survives a power cut; a
  /// failed sync throws a storage_error and leaves no object at the key
  /// (RELIABILITY.md). `content_type` is not stored (the key's extension
  /// carries the format).
  void put(const std::string& key, const blob& bytes,
           const std::string& content_type) override;

  bool exists(const std::string& key) override;

  /// The file that holds `key`; throws storage_error (not retryable) when
  /// the key is malformed or would leave the bucket directory.
  std::filesystem::path path_of(const std::string& key) const;

  /// Directory of in-progress writes, outside every bucket.
  const std::filesystem::path& staging_dir() const { return staging_dir_; }

  /// Replaces the call every sync goes through (sync_to_disk); for tests,
  /// which count the calls and inject failures. Call before any put.
  void replace_sync_call(sync_call call) { sync_call_ = std::move(call); }

private:
  std::filesystem::path temp_path() const;
  void remove_stale_staging_files() const;
  bool link_unnamed(int parent, const std::string& leaf, const blob& bytes,
                    const std::filesystem::path& target) const;
  /// The bucket directory's descriptor; -1 when it does not exist and
  /// `create` is false (it is created when set).
  int open_bucket(bool create) const;
  /// The directory that holds `key`'s file, made (and synced into its
  /// parent, with disk_sync::on) where missing.
  int open_key_dir(int bucket, const std::string& key, const std::string& parent_key,
                   const std::filesystem::path& target) const;
  /// With disk_sync::on: syncs `fd`, throwing storage_error naming `path`.
  void sync_or_throw(int fd, sync_target what, const std::filesystem::path& path) const;
  /// With disk_sync::on: syncs the directory `parent` (the key's, below
  /// `bucket`) after `leaf` was published in it, and the ones above while
  /// another put makes directories; on failure takes `leaf` away again and
  /// throws.
  void sync_published(int bucket, int parent, const std::string& parent_key,
                      const std::string& leaf, const std::filesystem::path& target) const;
  /// Syncs the root, the bucket and the directories of `parent_key` but
  /// its last (sync_published).
  void sync_ancestors(int bucket, const std::string& parent_key) const;

  std::filesystem::path bucket_dir_;
  std::filesystem::path staging_dir_;
  beneath_mode mode_;
  disk_sync sync_;
  sync_call sync_call_{sync_to_disk};
  /// Directories being made whose entry is not synced yet (sync_published).
  mutable std::atomic<int> dirs_in_progress_{0};
  mutable std::atomic<uint64_t> temp_counter_{0};
  mutable std::atomic<bool> unnamed_unsupported_{false};
};

} // namespace quel
