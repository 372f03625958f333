#include "adapters/storage/open_beneath.hpp"

#include <atomic>
#include <cerrno>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437  // the same number on every Linux architecture
#endif

namespace quel {

namespace {

// Set once openat2 answered ENOSYS (a kernel before 5.6, or a seccomp filter
// that does not know the call), so that the fallback is taken straight away.
std::atomic<bool> openat2_missing{false};

int openat2_beneath(int dirfd, const std::string& rel, int flags) {
  open_how how{};
  how.flags = static_cast<unsigned long long>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  long fd = -1;
  // EAGAIN: a rename somewhere raced the lookup; a few tries, then the
  // caller walks the components instead (ENOSYS).
  for (int attempt = 0; attempt < 16; ++attempt) {
    fd = ::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof(how));
    if (fd >= 0 || (errno != EINTR && errno != EAGAIN))
      return static_cast<int>(fd);
  }
  errno = ENOSYS;
  return -1;
}

// After a failed openat(O_NOFOLLOW | O_DIRECTORY), tells a symlink (ELOOP)
// from a plain file (ENOTDIR) whatever the kernel reported.
int refine_errno(int dirfd, const std::string& name, int err) {
  struct stat st {};
  if (err == ENOTDIR && ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0
      && S_ISLNK(st.st_mode))
    return ELOOP;
  return err;
}

// Opens directory `name` in `dirfd` (creating it when asked, with
// `make_dir` when given), never following a symlink; -1 with errno on failure.
int open_dir_step(int dirfd, const std::string& name, bool create,
                  const make_dir_call& make_dir) {
  constexpr int dir_flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int fd = ::openat(dirfd, name.c_str(), dir_flags);
  if (fd < 0 && errno == ENOENT && create) {
    int made = make_dir ? make_dir(dirfd, name.c_str()) : ::mkdirat(dirfd, name.c_str(), 0755);
    if (made != 0 && errno != EEXIST)
      return -1;
    fd = ::openat(dirfd, name.c_str(), dir_flags);
  }
  if (fd < 0)
    errno = refine_errno(dirfd, name, errno);
  return fd;
}

// Walks `rel` one component at a time from `dirfd`: every component but the
// last as a directory, the last with `flags` (or as a directory too when
// `last_is_dir`).
int walk(int dirfd, const std::string& rel, int flags, bool last_is_dir, bool create,
         const make_dir_call& make_dir = {}) {
  int current = dirfd;
  auto close_current = [&] {
    if (current != dirfd) {
      int saved = errno;
      ::close(current);
      errno = saved;
    }
  };
  size_t start = 0;
  while (true) {
    auto slash = rel.find('/', start);
    auto name = rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    bool last = slash == std::string::npos;
    int next;
    if (!last || last_is_dir) {
      next = open_dir_step(current, name, create, make_dir);
    } else {
      next = ::openat(current, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
    }
    close_current();
    if (next < 0)
      return -1;
    current = next;
    if (last)
      return current;
    start = slash + 1;
  }
}

} // namespace

int open_beneath(int dirfd, const std::string& rel, int flags, beneath_mode mode) {
  if (mode == beneath_mode::automatic && !openat2_missing.load(std::memory_order_relaxed)) {
    int fd = openat2_beneath(dirfd, rel, flags);
    if (fd >= 0 || errno != ENOSYS)
      return fd;
    if (::syscall(SYS_openat2, -1, "", nullptr, 0) < 0 && errno == ENOSYS)
      openat2_missing.store(true, std::memory_order_relaxed);
  }
  return walk(dirfd, rel, flags, false, false);
}

int open_dir_beneath(int dirfd, const std::string& rel, bool create,
                     const make_dir_call& make_dir) {
  if (rel.empty())
    return ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  return walk(dirfd, rel, 0, true, create, make_dir);
}

} // namespace quel
