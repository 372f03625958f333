#pragma once

#include <functional>
#include <string>

namespace quel {

/// How a path below a directory is resolved.
enum class beneath_mode {
  /// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) when the kernel has it
  /// (Linux 5.6+), else component_walk.
  automatic,
  /// One openat(O_NOFOLLOW) per component; what automatic falls back to when
  /// openat2 answers ENOSYS. Selectable so that tests cover both.
  component_walk,
};

/// Opens `rel` below the directory `dirfd` without following a symlink
/// anywhere on the way, the last component included, and without leaving
/// `dirfd`. `rel` is '/'-separated and has passed object_key_problem() (no
/// empty, `.` or `..` segments). `flags` are open(2) flags for the last
/// component; O_NOFOLLOW and O_CLOEXEC are added. Returns the new descriptor,
/// or -1 with errno set: ELOOP when a symlink is on the path, ENOENT or
/// ENOTDIR when it does not exist. Note: with O_PATH, a symlink as the last
/// component is opened itself (check S_ISLNK after fstat).
int open_beneath(int dirfd, const std::string& rel, int flags,
                 beneath_mode mode = beneath_mode::automatic);

/// Makes the missing directory `name` in `parent`: 0 when it exists
/// afterwards (made here or, EEXIST, by someone else a moment ago), or -1
/// with errno set.
using make_dir_call = std::function<int(int parent, const char* name)>;

/// Opens the directory `rel` below `dirfd` component by component without
/// following a symlink, creating missing directories when `create` is set
/// (with `make_dir` when given, else mkdirat mode 0755: the local store
/// passes one that also syncs `parent`); an empty `rel` opens `dirfd` itself
/// again. Returns the descriptor or -1 with errno set, as open_beneath().
int open_dir_beneath(int dirfd, const std::string& rel, bool create,
                     const make_dir_call& make_dir = {});

} // namespace quel
