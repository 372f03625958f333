#pragma once

#include <functional>

namespace quel {

/// Whether the local store makes each object durable before put() returns
/// (storage.local_sync, docs/RELIABILITY.md "Durability of local objects").
enum class disk_sync {
  /// The object's bytes and every new directory entry on its path are on
  /// disk before put() returns: a committed (and charged) image survives a
  /// power cut.
  on,
  /// The page cache only, as before the setting existed: for benchmarks,
  /// tests and throwaway directories.
  off,
};

/// What one sync call makes durable.
enum class sync_target {
  /// An object's bytes (and the size needed to read them back), before its
  /// name is published: fdatasync.
  file,
  /// The entries of a directory (a name linked, renamed or created in it):
  /// fsync.
  directory,
};

/// The call a local store syncs with: 0, or -1 with errno set. A store's
/// call can be replaced (local_object_store::replace_sync_call) so that tests
/// see every call in order and can make one fail, with the real store
/// around it.
using sync_call = std::function<int(int fd, sync_target what)>;

/// The real call: fdatasync for a file, fsync for a directory, again on EINTR.
int sync_to_disk(int fd, sync_target what);

} // namespace quel
