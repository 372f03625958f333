// storage.local_sync: with disk_sync::on a put returns only once the
// object's bytes and every new directory entry on its path are on disk
// (docs/RELIABILITY.md, "Durability of local objects"). The real store runs
// with its sync call replaced by one that records each call (and then does
// the real one) or fails it, so the order of syncs against the publishing of
// the name is seen from the file system itself, without strace.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "adapters/storage/local_object_store.hpp"
#include "tests/unit/media_store_support.hpp"

namespace fs = std::filesystem;
using quel::blob;
using quel::disk_sync;
using quel::local_object_store;
using quel::storage_error;
using quel::sync_target;
using quel::test::read_file;
using quel::test::temp_root;

namespace {

constexpr int64_t mb20 = 20 * 1024 * 1024;

// What the descriptor names ("/dir/#123 (deleted)" for an unnamed file).
std::string path_of_fd(int fd) {
  char buf[4096] = {};
  auto n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? std::string("?") : std::string(buf, static_cast<size_t>(n));
}

struct sync_record {
  sync_target what;
  std::string path;        // of the synced descriptor
  std::string key_bytes;   // the object at the watched key when it ran ("-": none)
};

// Records every sync (then makes it for real); `fail` may make one fail
// instead, with errno set, before it is made.
struct sync_recorder {
  fs::path watched;  // the file of the key under test
  std::vector<sync_record> calls;
  std::function<int(const sync_record&)> fail;  // errno to fail with, 0: do it

  quel::sync_call call() {
    return [this](int fd, sync_target what) {
      sync_record r{what, path_of_fd(fd),
                    fs::exists(watched) ? read_file(watched) : std::string("-")};
      calls.push_back(r);
      if (fail) {
        if (int err = fail(r); err != 0) {
          errno = err;
          return -1;
        }
      }
      return quel::sync_to_disk(fd, what);
    };
  }
  size_t count(sync_target what) const {
    size_t n = 0;
    for (auto& c : calls)
      n += c.what == what;
    return n;
  }
};

std::set<std::string> regular_files_under(const fs::path& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir))
    return out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out.insert(fs::relative(e.path(), dir).generic_string());
  return out;
}

storage_error error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const storage_error& e) {
    return e;
  }
  FAIL("no storage_error was thrown");
  return storage_error("", true);
}

bool mentions(const storage_error& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

} // namespace

TEST_CASE("local store syncs a new object's bytes before its name, then each new directory",
          "[media][store][sync]") {
  temp_root root;
  local_object_store store(root.path, "images");
  sync_recorder rec;
  store.replace_sync_call(rec.call());
  auto bucket = root.path / "images";
  rec.watched = bucket / "generated" / "job-1" / "s0-i0.webp";

  store.put("generated/job-1/s0-i0.webp", blob("first image"), "image/webp");
  REQUIRE(rec.calls.size() == 5);
  // The bucket, generated/ and job-1/ were made: each one's parent is synced.
  CHECK(rec.calls[0].what == sync_target::directory);
  CHECK(rec.calls[0].path == root.path.string());
  CHECK(rec.calls[1].what == sync_target::directory);
  CHECK(rec.calls[1].path == bucket.string());
  CHECK(rec.calls[2].what == sync_target::directory);
  CHECK(rec.calls[2].path == (bucket / "generated").string());
  // The bytes, while the key has no object yet (an unnamed file in job-1/)...
  CHECK(rec.calls[3].what == sync_target::file);
  CHECK(rec.calls[3].key_bytes == "-");
  CHECK(rec.calls[3].path.rfind((bucket / "generated" / "job-1").string() + "/", 0) == 0);
  // ...then the directory that now names the whole object.
  CHECK(rec.calls[4].what == sync_target::directory);
  CHECK(rec.calls[4].path == (bucket / "generated" / "job-1").string());
  CHECK(rec.calls[4].key_bytes == "first image");

  // A second key in the same directory: its bytes, then the directory.
  rec.calls.clear();
  rec.watched = bucket / "generated" / "job-1" / "s0-i1.webp";
  store.put("generated/job-1/s0-i1.webp", blob("second image"), "image/webp");
  REQUIRE(rec.calls.size() == 2);
  CHECK(rec.calls[0].what == sync_target::file);
  CHECK(rec.calls[0].key_bytes == "-");
  CHECK(rec.calls[1].what == sync_target::directory);
  CHECK(rec.calls[1].key_bytes == "second image");
}

TEST_CASE("local store syncs a replacing object before renaming it over the old one",
          "[media][store][sync]") {
  temp_root root;
  local_object_store store(root.path, "images");
  store.put("generated/j/s0-i0.webp", blob("old"), "image/webp");
  sync_recorder rec;
  store.replace_sync_call(rec.call());
  rec.watched = root.path / "images" / "generated" / "j" / "s0-i0.webp";

  store.put("generated/j/s0-i0.webp", blob("new"), "image/webp");
  REQUIRE(rec.calls.size() >= 2);
  // Every file is synced while the key still holds the old object, and the
  // last call syncs the directory that now names the new one.
  for (size_t i = 0; i + 1 < rec.calls.size(); ++i) {
    CHECK(rec.calls[i].what == sync_target::file);
    CHECK(rec.calls[i].key_bytes == "old");
  }
  CHECK(rec.calls.back().what == sync_target::directory);
  CHECK(rec.calls.back().path == (root.path / "images" / "generated" / "j").string());
  CHECK(rec.calls.back().key_bytes == "new");
  CHECK(store.get("generated/j/s0-i0.webp", mb20)->bytes() == "new");
}

TEST_CASE("local store with local_sync off makes no sync call", "[media][store][sync]") {
  temp_root root;
  local_object_store store(root.path, "images", quel::beneath_mode::automatic, disk_sync::off);
  sync_recorder rec;
  store.replace_sync_call(rec.call());
  store.put("generated/job-1/s0-i0.webp", blob("a"), "image/webp");
  store.put("generated/job-1/s0-i0.webp", blob("b"), "image/webp");
  store.put("top.png", blob("c"), "image/png");
  CHECK(rec.calls.empty());
  CHECK(store.get("generated/job-1/s0-i0.webp", mb20)->bytes() == "b");
  CHECK(store.get("top.png", mb20)->bytes() == "c");
}

TEST_CASE("a failed sync of the bytes leaves no object and is retryable",
          "[media][store][sync]") {
  temp_root root;
  local_object_store store(root.path, "images");
  sync_recorder rec;
  rec.fail = [](const sync_record& r) { return r.what == sync_target::file ? EIO : 0; };
  store.replace_sync_call(rec.call());

  auto e = error_of([&] { store.put("generated/j/s0-i0.webp", blob("img"), "image/webp"); });
  CHECK(e.retryable());
  CHECK(mentions(e, "cannot sync to disk"));
  CHECK(mentions(e, std::strerror(EIO)));
  CHECK_FALSE(store.exists("generated/j/s0-i0.webp"));
  CHECK(regular_files_under(root.path).empty());

  // Replacing an object: the old one stays, whole.
  rec.fail = nullptr;
  store.put("generated/j/s0-i0.webp", blob("old"), "image/webp");
  rec.fail = [](const sync_record& r) { return r.what == sync_target::file ? EIO : 0; };
  CHECK(error_of([&] { store.put("generated/j/s0-i0.webp", blob("new"), "image/webp"); })
          .retryable());
  CHECK(store.get("generated/j/s0-i0.webp", mb20)->bytes() == "old");
  CHECK(regular_files_under(root.path) == std::set<std::string>{"images/generated/j/s0-i0.webp"});
}

TEST_CASE("a failed sync of the directory takes the new name away again",
          "[media][store][sync]") {
  temp_root root;
  local_object_store store(root.path, "images");
  sync_recorder rec;
  rec.watched = root.path / "images" / "generated" / "j" / "s0-i0.webp";
  // Only the sync after the name was published (the key has an object).
  rec.fail = [](const sync_record& r) {
    return r.what == sync_target::directory && r.key_bytes != "-" ? EIO : 0;
  };
  store.replace_sync_call(rec.call());

  auto e = error_of([&] { store.put("generated/j/s0-i0.webp", blob("img"), "image/webp"); });
  CHECK(e.retryable());
  CHECK(mentions(e, "cannot sync to disk"));
  CHECK_FALSE(store.exists("generated/j/s0-i0.webp"));
  CHECK(regular_files_under(root.path).empty());

  // Through the staging path (the key exists): no object either, not one
  // that is not known to be on disk.
  rec.fail = nullptr;
  store.put("generated/j/s0-i0.webp", blob("old"), "image/webp");
  rec.fail = [](const sync_record& r) {
    return r.what == sync_target::directory && r.key_bytes == "new" ? EIO : 0;
  };
  CHECK(error_of([&] { store.put("generated/j/s0-i0.webp", blob("new"), "image/webp"); })
          .retryable());
  CHECK_FALSE(store.exists("generated/j/s0-i0.webp"));
  CHECK(regular_files_under(root.path).empty());

  // Once the disk recovers, the retry stores it.
  rec.fail = nullptr;
  store.put("generated/j/s0-i0.webp", blob("new"), "image/webp");
  CHECK(store.get("generated/j/s0-i0.webp", mb20)->bytes() == "new");
}

TEST_CASE("a failed sync of a directory made for the key stores nothing",
          "[media][store][sync]") {
  temp_root root;
  local_object_store store(root.path, "images");
  store.put("first.png", blob("x"), "image/png");  // the bucket exists
  sync_recorder rec;
  rec.fail = [](const sync_record& r) { return r.what == sync_target::directory ? ENOSPC : 0; };
  store.replace_sync_call(rec.call());
  auto e = error_of([&] { store.put("generated/j/s0-i0.webp", blob("img"), "image/webp"); });
  CHECK(e.retryable());
  CHECK(mentions(e, "cannot sync to disk a directory made for"));
  CHECK(rec.count(sync_target::file) == 0);  // stopped before any bytes
  CHECK_FALSE(store.exists("generated/j/s0-i0.webp"));

  // A read-only file system is not retryable, as for every other call.
  rec.fail = [](const sync_record& r) { return r.what == sync_target::file ? EROFS : 0; };
  CHECK_FALSE(error_of([&] { store.put("other.png", blob("y"), "image/png"); }).retryable());
  CHECK(regular_files_under(root.path) == std::set<std::string>{"images/first.png"});
}

TEST_CASE("a put that finds a directory another put is still making syncs the ones above",
          "[media][store][sync]") {
  temp_root root;
  local_object_store store(root.path, "images");
  store.put("first.png", blob("x"), "image/png");  // the bucket exists
  auto bucket = root.path / "images";
  sync_recorder rec;
  // While the first put syncs the bucket after making generated/ (its
  // entry not on disk yet), a second put stores a key inside generated/,
  // which it finds already there.
  bool nested = false;
  std::vector<sync_record> inner_calls;
  auto outer = rec.call();
  store.replace_sync_call([&](int fd, sync_target what) {
    if (!nested && what == sync_target::directory && path_of_fd(fd) == bucket.string()) {
      nested = true;
      auto before = rec.calls.size();
      store.put("generated/other.webp", blob("other"), "image/webp");
      inner_calls.assign(rec.calls.begin() + static_cast<long>(before), rec.calls.end());
    }
    return outer(fd, what);
  });
  store.put("generated/j/s0-i0.webp", blob("img"), "image/webp");
  REQUIRE(nested);
  std::vector<std::string> inner_dirs;
  for (auto& c : inner_calls)
    if (c.what == sync_target::directory)
      inner_dirs.push_back(c.path);
  // Its own directory, then every directory above it up to the root.
  CHECK(inner_dirs
        == std::vector<std::string>{(bucket / "generated").string(), root.path.string(),
                                    bucket.string()});
  CHECK(store.get("generated/other.webp", mb20)->bytes() == "other");
  CHECK(store.get("generated/j/s0-i0.webp", mb20)->bytes() == "img");

  // With no directory being made, a put syncs only its own.
  rec.calls.clear();
  store.put("generated/third.webp", blob("3"), "image/webp");
  CHECK(rec.count(sync_target::directory) == 1);
}
