#include "adapters/storage/local_object_store.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

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

[[noreturn]] void refuse_key(const std::string& key, const std::string& why) {
  std::string shown;
  for (char c : key)
    shown += c == '\0' ? std::string("\\0") : std::string(1, c);
  throw storage_error("object key \"" + shown + "\" refused: " + why, false);
}

// Checks the key's text; path_of() then checks the joined path as well, so a
// rule forgotten here still cannot lead outside the bucket.
void check_key_text(const std::string& key) {
  if (key.empty())
    refuse_key(key, "it is empty");
  if (key.front() == '/')
    refuse_key(key, "it is absolute");
  if (key.back() == '/')
    refuse_key(key, "it names a directory");
  if (key.find('\\') != std::string::npos)
    refuse_key(key, "it contains a backslash");
  if (key.find('\0') != std::string::npos)
    refuse_key(key, "it contains a NUL byte");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos)
      end = key.size();
    if (std::string_view(key).substr(start, end - start) == "..")
      refuse_key(key, "it contains a '..' segment");
    start = end + 1;
  }
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

} // namespace

local_object_store::local_object_store(fs::path root_dir, std::string bucket) {
  check_bucket(bucket);
  auto root = fs::absolute(std::move(root_dir)).lexically_normal();
  bucket_dir_ = root / bucket;
  // Staging lives beside the buckets, so a write killed half-way (kill -9)
  // leaves its debris outside the bucket, where it is never an object.
  staging_dir_ = root / ".quel-staging";
  remove_stale_staging_files();
}

fs::path local_object_store::path_of(const std::string& key) const {
  check_key_text(key);
  auto joined = (bucket_dir_ / key).lexically_normal();
  if (!strictly_below(bucket_dir_, joined))
    refuse_key(key, "it leads outside the bucket");
  return joined;
}

std::optional<blob> local_object_store::get(const std::string& key, int64_t max_bytes) {
  auto path = path_of(key);
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return std::nullopt;
    throw_errno("cannot open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    throw_errno("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode))
    throw storage_error("object " + key + " is not a regular file", false);
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

void local_object_store::put(const std::string& key, const blob& bytes,
                             const std::string& /*content_type*/) {
  auto target = path_of(key);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec)
    throw_errno("cannot create directory", target.parent_path(), ec.value());
  fs::create_directories(staging_dir_, ec);
  auto temp = ec ? fs::path() : temp_path();
  // A staging directory on another file system (a bucket mounted on its own)
  // cannot be renamed from; then the temporary file sits next to the target.
  bool beside_target = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (temp.empty() || attempt == 1) {
      beside_target = true;
      temp = target.parent_path()
             / ("." + target.filename().string() + "."
                + std::to_string(::getpid()) + "."
                + std::to_string(temp_counter_.fetch_add(1)) + ".tmp");
    }
    fd_guard fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0)
      throw_errno("cannot create", temp, errno);
    try {
      write_all(fd.get(), bytes.bytes(), temp);
    } catch (...) {
      ::unlink(temp.c_str());
      throw;
    }
    if (::close(fd.release()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      throw_errno("cannot write", temp, err);
    }
    if (::rename(temp.c_str(), target.c_str()) == 0)
      return;
    int err = errno;
    ::unlink(temp.c_str());
    if (err != EXDEV || beside_target)
      throw_errno("cannot rename into place", target, err);
  }
}

bool local_object_store::exists(const std::string& key) {
  auto path = path_of(key);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0)
    return S_ISREG(st.st_mode);
  if (errno == ENOENT || errno == ENOTDIR)
    return false;
  throw_errno("cannot stat", path, errno);
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
