#include "adapters/storage/local_object_store.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/storage/open_beneath.hpp"
#include "domain/object_key.hpp"

namespace fs = std::filesystem;

namespace quel {

namespace {

// Staging files older than this belong to a write that can no longer finish
// (no storage call lives this long), whatever host or process made them.
constexpr auto stale_staging_age = std::chrono::minutes(15);

// Errors that no retry can fix; everything else (ENOSPC, EIO, ...) may clear.
bool retryable_errno(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
    case EROFS:
    case EISDIR:
    case ENOTDIR:
    case ENAMETOOLONG:
    case EINVAL:
      return false;
    default:
      return true;
  }
}

[[noreturn]] void throw_errno(const std::string& what, const fs::path& path, int err) {
  throw storage_error(what + " " + path.string() + ": " + std::strerror(err),
                      retryable_errno(err));
}

[[noreturn]] void refuse_key(const std::string& problem) {
  throw storage_error(problem, false);
}

// A symlink anywhere on a key's path is refused, not followed: it could
// lead out of the bucket, and objects are plain files (docs/SECURITY.md).
[[noreturn]] void refuse_symlink(const std::string& key) {
  throw storage_error("object key \"" + key
                        + "\" refused: a symlink is on its path (local storage never "
                          "follows symlinks)",
                      false);
}

const char* file_kind(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symlink";
    default: return "not a regular file";
  }
}

// A key split at its last '/': the parent ("" for a key without one) and
// the file name.
std::pair<std::string, std::string> split_key(const std::string& key) {
  auto slash = key.rfind('/');
  if (slash == std::string::npos)
    return {std::string(), key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

void check_bucket(const std::string& bucket) {
  if (bucket.empty() || bucket == "." || bucket == ".."
      || bucket.find_first_of(std::string("/\\\0", 3)) != std::string::npos)
    throw storage_error("bucket name \"" + bucket + "\" is not a plain directory name",
                        false);
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
    return "localhost";
  return buf;
}

// True when `child` lies below `parent` (not `parent` itself), compared
// lexically on normalised paths.
bool strictly_below(const fs::path& parent, const fs::path& child) {
  auto rel = child.lexically_relative(parent);
  if (rel.empty() || rel == ".")
    return false;
  auto first = *rel.begin();
  return first != ".." && !rel.is_absolute();
}

void write_all(int fd, const std::string& data, const fs::path& path) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      throw_errno("cannot write", path, errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// Owns a file descriptor; closes it on every path out.
class fd_guard {
public:
  explicit fd_guard(int fd) : fd_(fd) {
  }
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

private:
  int fd_;
};

// Counts a directory being made until its entry is synced (sync_published).
class in_progress {
public:
  explicit in_progress(std::atomic<int>& count) : count_(count) {
    count_.fetch_add(1);
  }
  ~in_progress() { count_.fetch_sub(1); }
  in_progress(const in_progress&) = delete;
  in_progress& operator=(const in_progress&) = delete;

private:
  std::atomic<int>& count_;
};

} // namespace

local_object_store::local_object_store(fs::path root_dir, std::string bucket,
                                       beneath_mode mode, disk_sync sync)
  : mode_(mode), sync_(sync) {
  check_bucket(bucket);
  auto root = fs::absolute(std::move(root_dir)).lexically_normal();
  bucket_dir_ = root / bucket;
  // Staging lives beside the buckets, so a write killed half-way (kill -9)
  // leaves its debris outside the bucket, where it is never an object.
  staging_dir_ = root / ".quel-staging";
  remove_stale_staging_files();
}

fs::path local_object_store::path_of(const std::string& key) const {
  if (auto problem = object_key_problem(key))
    refuse_key(*problem);
  auto joined = (bucket_dir_ / key).lexically_normal();
  if (!strictly_below(bucket_dir_, joined))
    refuse_key("object key \"" + key + "\" leads outside the bucket");
  return joined;
}

int local_object_store::open_bucket(bool create) const {
  int fd = ::open(bucket_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  // Created only when missing: create_directories stats every component,
  // which a put per image would pay every time.
  if (fd < 0 && errno == ENOENT && create) {
    in_progress busy(dirs_in_progress_);
    // The directories about to be made, the bucket first: each one's entry
    // is in its parent, which is synced once they exist.
    std::vector<fs::path> missing;
    std::error_code ec;
    for (auto p = bucket_dir_; p != p.parent_path() && !fs::exists(p, ec); p = p.parent_path())
      missing.push_back(p);
    fs::create_directories(bucket_dir_, ec);
    if (ec)
      throw_errno("cannot create directory", bucket_dir_, ec.value());
    for (auto& made : missing) {
      fd_guard parent(::open(made.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (parent.get() < 0)
        throw_errno("cannot open directory", made.parent_path(), errno);
      sync_or_throw(parent.get(), sync_target::directory, made.parent_path());
    }
    fd = ::open(bucket_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (fd < 0 && !(errno == ENOENT && !create))
    throw_errno("cannot open bucket directory", bucket_dir_, errno);
  return fd;
}

std::optional<blob> local_object_store::get(const std::string& key, int64_t max_bytes) {
  auto path = path_of(key);
  fd_guard bucket(open_bucket(false));
  if (bucket.get() < 0)
    return std::nullopt;
  // O_NONBLOCK: opening a FIFO or a device must not wait for a peer; such a
  // file is refused below, and for a regular file the flag changes nothing.
  fd_guard fd(open_beneath(bucket.get(), key, O_RDONLY | O_NONBLOCK, mode_));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return std::nullopt;
    if (errno == ELOOP)
      refuse_symlink(key);
    throw_errno("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    throw_errno("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode))
    throw storage_error("object " + key + " is " + file_kind(st.st_mode)
                          + ", not a regular file",
                        false);
  // The limit is checked on the size first so that an oversized object is
  // never read into memory.
  if (static_cast<int64_t>(st.st_size) > max_bytes)
    throw storage_error("object " + key + " is " + std::to_string(st.st_size)
                          + " bytes, larger than the limit of "
                          + std::to_string(max_bytes),
                        false);
  std::string data;
  data.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      throw_errno("cannot read", path, errno);
    }
    if (n == 0)
      break;
    got += static_cast<size_t>(n);
  }
  // put() replaces files by rename, so an open file never changes size;
  // a short read means someone truncated it in place.
  if (got != data.size())
    throw storage_error("object " + key + " shrank while being read", true);
  return blob(std::move(data));
}

// The common case, a key not stored yet: the bytes go into an unnamed file
// (O_TMPFILE) in the target's own directory, which is linked under its name
// only once complete. Readers see no file or the whole file; a write killed
// half-way leaves nothing at all (the kernel frees an unnamed file with its
// last descriptor). Both paths publish a complete file in one step and, with
// disk_sync::on, sync alike (bytes before the name, directory after). It is
// also much cheaper:
// the inode comes from the target directory's group instead of the one
// staging directory's (ext4 without a journal walks past every recently
// deleted inode of a group on each allocation, which made the staging
// directory's group a hot spot), and no cross-directory rename (which takes
// the file system's rename lock) is needed. Returns false when the caller
// must take the staging path: the key exists (linkat never replaces), or the
// file system or /proc does not allow it (then never tried again).
bool local_object_store::link_unnamed(int parent, const std::string& leaf, const blob& bytes,
                                      const fs::path& target) const {
  if (unnamed_unsupported_.load(std::memory_order_relaxed))
    return false;
  fd_guard fd(::openat(parent, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    // EOPNOTSUPP/EISDIR/EINVAL: the file system or kernel has no O_TMPFILE.
    if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
      unnamed_unsupported_.store(true, std::memory_order_relaxed);
      return false;
    }
    throw_errno("cannot create a file in", target.parent_path(), errno);
  }
  write_all(fd.get(), bytes.bytes(), target);
  // The bytes reach the disk before the name does: after a power cut the
  // name leads to the whole object or is not there (the file is unnamed
  // until linkat, so a failed sync leaves nothing behind).
  sync_or_throw(fd.get(), sync_target::file, target);
  // The way open(2) documents for O_TMPFILE: linkat(AT_EMPTY_PATH) needs
  // CAP_DAC_READ_SEARCH, the /proc link does not. linkat does not follow or
  // replace anything at the new name: a symlink or file there is EEXIST.
  const auto proc = "/proc/self/fd/" + std::to_string(fd.get());
  if (::linkat(AT_FDCWD, proc.c_str(), parent, leaf.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    int err = errno;
    if (err == EEXIST)
      return false;
    if (err == ENOENT && ::access("/proc/self/fd", F_OK) != 0) {
      unnamed_unsupported_.store(true, std::memory_order_relaxed);
      return false;
    }
    throw_errno("cannot link into place", target, err);
  }
  // On local file systems write() has reported every error already; should
  // close() still fail, the object is not known good: take it away again.
  if (::close(fd.release()) != 0) {
    int err = errno;
    ::unlinkat(parent, leaf.c_str(), 0);
    throw_errno("cannot write", target, err);
  }
  return true;
}

void local_object_store::sync_or_throw(int fd, sync_target what, const fs::path& path) const {
  if (sync_ == disk_sync::off)
    return;
  if (sync_call_(fd, what) != 0)
    throw_errno("cannot sync to disk", path, errno);
}

int local_object_store::open_key_dir(int bucket, const std::string& key,
                                     const std::string& parent_key,
                                     const fs::path& target) const {
  int sync_failure = 0;
  // A directory made for the key must be on disk too, or a power cut takes
  // the object with it: its parent is synced once it exists. Also when a
  // concurrent put made it a moment ago (EEXIST): that put may not have
  // synced it yet.
  make_dir_call make_and_sync = [this, &sync_failure](int parent, const char* name) {
    in_progress busy(dirs_in_progress_);
    if (::mkdirat(parent, name, 0755) != 0 && errno != EEXIST)
      return -1;
    if (sync_call_(parent, sync_target::directory) != 0) {
      sync_failure = errno;
      return -1;
    }
    return 0;
  };
  // The parent is opened without following symlinks and the file renamed
  // into that descriptor, so a symlinked directory cannot redirect a write.
  int fd = open_dir_beneath(bucket, parent_key, true,
                            sync_ == disk_sync::on ? make_and_sync : make_dir_call{});
  if (fd < 0) {
    if (sync_failure != 0)
      throw_errno("cannot sync to disk a directory made for", target, sync_failure);
    if (errno == ELOOP)
      refuse_symlink(key);
    throw_errno("cannot create directory", target.parent_path(), errno);
  }
  return fd;
}

void local_object_store::sync_published(int bucket, int parent, const std::string& parent_key,
                                        const std::string& leaf,
                                        const fs::path& target) const {
  if (sync_ == disk_sync::off)
    return;
  try {
    sync_or_throw(parent, sync_target::directory, target.parent_path());
    // Another put of this store making a directory right now may have made
    // one on this key's path, which this put then found there, and not have
    // synced its entry yet: the directories above are synced here too, so
    // that this object does not depend on that put. Only while directories
    // are being made, which is rare.
    if (dirs_in_progress_.load() > 0)
      sync_ancestors(bucket, parent_key);
  } catch (const storage_error&) {
    // The name is visible but not known to be on disk: neither a retry nor
    // the resume that finds objects with exists() may take it for stored.
    // Readers see no object or the whole one either way.
    ::unlinkat(parent, leaf.c_str(), 0);
    throw;
  }
}

void local_object_store::sync_ancestors(int bucket, const std::string& parent_key) const {
  auto root = bucket_dir_.parent_path();
  fd_guard root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root_fd.get() < 0)
    throw_errno("cannot open directory", root, errno);
  sync_or_throw(root_fd.get(), sync_target::directory, root);
  if (parent_key.empty())
    return;  // the key's own directory is the bucket, synced already
  sync_or_throw(bucket, sync_target::directory, bucket_dir_);
  for (auto slash = parent_key.find('/'); slash != std::string::npos;
       slash = parent_key.find('/', slash + 1)) {
    auto dir = parent_key.substr(0, slash);
    fd_guard fd(open_dir_beneath(bucket, dir, false));
    if (fd.get() < 0)
      throw_errno("cannot open directory", bucket_dir_ / dir, errno);
    sync_or_throw(fd.get(), sync_target::directory, bucket_dir_ / dir);
  }
}

void local_object_store::put(const std::string& key, const blob& bytes,
                             const std::string& /*content_type*/) {
  auto target = path_of(key);
  fd_guard bucket(open_bucket(true));
  const auto [parent_key, leaf] = split_key(key);
  fd_guard parent(open_key_dir(bucket.get(), key, parent_key, target));
  if (link_unnamed(parent.get(), leaf, bytes, target)) {
    sync_published(bucket.get(), parent.get(), parent_key, leaf, target);
    return;
  }
  std::error_code ec;
  fs::create_directories(staging_dir_, ec);
  auto temp = ec ? fs::path() : temp_path();
  // A staging directory on another file system (a bucket mounted on its own)
  // cannot be renamed from; then the temporary file sits next to the target.
  bool beside_target = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    int from_dir = AT_FDCWD;
    if (temp.empty() || attempt == 1) {
      beside_target = true;
      from_dir = parent.get();
      temp = "." + leaf + "." + std::to_string(::getpid()) + "."
             + std::to_string(temp_counter_.fetch_add(1)) + ".tmp";
    }
    fd_guard fd(::openat(from_dir, temp.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() < 0)
      throw_errno("cannot create", temp, errno);
    try {
      write_all(fd.get(), bytes.bytes(), temp);
      // Before the rename: the object at the key is then the old one or
      // the whole new one, after a power cut too.
      sync_or_throw(fd.get(), sync_target::file, temp);
    } catch (...) {
      ::unlinkat(from_dir, temp.c_str(), 0);
      throw;
    }
    if (::close(fd.release()) != 0) {
      int err = errno;
      ::unlinkat(from_dir, temp.c_str(), 0);
      throw_errno("cannot write", temp, err);
    }
    // rename replaces a symlink or FIFO at the target itself, never what a
    // symlink points to. Syncing the target's directory then puts the new
    // name on disk; whether the staging directory still names the file
    // after a power cut does not matter (debris there is cleared at start-up).
    if (::renameat(from_dir, temp.c_str(), parent.get(), leaf.c_str()) == 0) {
      sync_published(bucket.get(), parent.get(), parent_key, leaf, target);
      return;
    }
    int err = errno;
    ::unlinkat(from_dir, temp.c_str(), 0);
    if (err != EXDEV || beside_target)
      throw_errno("cannot rename into place", target, err);
  }
}

bool local_object_store::exists(const std::string& key) {
  auto path = path_of(key);
  fd_guard bucket(open_bucket(false));
  if (bucket.get() < 0)
    return false;
  // O_PATH opens nothing for reading: no FIFO or device can block or react.
  fd_guard fd(open_beneath(bucket.get(), key, O_PATH, mode_));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return false;
    if (errno == ELOOP)
      refuse_symlink(key);
    throw_errno("cannot stat", path, errno);
  }
  if (S_ISLNK(st.st_mode))
    refuse_symlink(key);
  return S_ISREG(st.st_mode);
}

fs::path local_object_store::temp_path() const {
  // host.pid.counter is unique among live writers sharing this directory,
  // and lets start-up recognise the debris of a dead process on this host.
  return staging_dir_
         / (host_name() + "." + std::to_string(::getpid()) + "."
            + std::to_string(temp_counter_.fetch_add(1)) + ".tmp");
}

void local_object_store::remove_stale_staging_files() const {
  std::error_code ec;
  fs::directory_iterator it(staging_dir_, ec);
  if (ec)
    return;
  const auto prefix = host_name() + ".";
  const auto now = fs::file_time_type::clock::now();
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec)
      return;
    const auto name = it->path().filename().string();
    bool stale = false;
    auto mtime = it->last_write_time(ec);
    if (!ec && now - mtime > stale_staging_age)
      stale = true;
    if (!stale && name.rfind(prefix, 0) == 0) {
      // name = host.pid.counter.tmp; a pid that no longer exists on this
      // host will never finish its write.
      auto rest = name.substr(prefix.size());
      auto dot = rest.find('.');
      if (dot != std::string::npos) {
        char* end = nullptr;
        long pid = std::strtol(rest.c_str(), &end, 10);
        if (end == rest.c_str() + dot && pid > 0 && pid != ::getpid()
            && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
          stale = true;
      }
    }
    if (stale)
      fs::remove(it->path(), ec);
    ec.clear();
  }
}

} // namespace quel
