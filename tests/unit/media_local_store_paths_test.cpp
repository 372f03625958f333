// Local storage never follows a symlink and never blocks on a special file
// (docs/SECURITY.md, "Paths"). Every case runs with openat2 (when the kernel
// has it) and with the per-component fallback.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/storage/local_object_store.hpp"
#include "tests/unit/media_store_support.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using quel::beneath_mode;
using quel::blob;
using quel::local_object_store;
using quel::storage_error;
using quel::test::read_file;

namespace {

// A temporary root with an "images" bucket, and beside it a secret file and
// a directory that nothing may reach through the bucket.
struct bucket_root : quel::test::temp_root {
  bucket_root() {
    fs::create_directories(path / "images");
    std::ofstream(path / "secret.txt") << "secret";
    fs::create_directories(path / "outside");
  }
};

constexpr int64_t mb20 = 20 * 1024 * 1024;

/// The storage_error `call` throws; fails the test when it throws none.
template <class F>
storage_error error_of(F call) {
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

TEST_CASE("local store refuses a symlink out of the bucket", "[media][store][paths]") {
  auto mode = GENERATE(beneath_mode::automatic, beneath_mode::component_walk);
  bucket_root root;
  auto bucket = root.path / "images";
  fs::create_symlink(root.path / "secret.txt", bucket / "leak.png");
  fs::create_directories(bucket / "in");
  fs::create_symlink(root.path / "outside", bucket / "in" / "out");
  fs::create_symlink("../../secret.txt", bucket / "in" / "relative.png");
  local_object_store store(root.path, "images", mode);

  for (std::string key : {"leak.png", "in/relative.png", "in/out/x.png"}) {
    INFO("key: " << key);
    auto e = error_of([&] { store.get(key, mb20); });
    CHECK_FALSE(e.retryable());
    CHECK(mentions(e, "symlink"));
    CHECK(mentions(error_of([&] { store.exists(key); }), "symlink"));
  }
  // A write through a symlinked directory must not land outside.
  auto e = error_of([&] { store.put("in/out/x.png", blob("evil"), "image/png"); });
  CHECK(mentions(e, "symlink"));
  CHECK_FALSE(e.retryable());
  CHECK(fs::is_empty(root.path / "outside"));
  CHECK(read_file(root.path / "secret.txt") == "secret");
}

TEST_CASE("local store refuses a symlink to another object inside the bucket",
          "[media][store][paths]") {
  // Decided: objects are regular files, so even a link that stays inside is
  // refused; one rule is simpler to reason about than "inside is fine".
  auto mode = GENERATE(beneath_mode::automatic, beneath_mode::component_walk);
  bucket_root root;
  auto bucket = root.path / "images";
  std::ofstream(bucket / "real.png") << "real";
  fs::create_symlink("real.png", bucket / "alias.png");
  fs::create_directories(bucket / "dir");
  fs::create_symlink("dir", bucket / "dirlink");
  std::ofstream(bucket / "dir" / "x.png") << "x";
  local_object_store store(root.path, "images", mode);

  CHECK(mentions(error_of([&] { store.get("alias.png", mb20); }), "symlink"));
  CHECK(mentions(error_of([&] { store.get("dirlink/x.png", mb20); }), "symlink"));
  CHECK(mentions(error_of([&] { store.exists("alias.png"); }), "symlink"));
  CHECK(store.get("real.png", mb20)->bytes() == "real");
  CHECK(store.get("dir/x.png", mb20)->bytes() == "x");
  // Writing over a symlinked object replaces the link, never its target.
  store.put("alias.png", blob("new"), "image/png");
  CHECK(read_file(bucket / "real.png") == "real");
  CHECK_FALSE(fs::is_symlink(bucket / "alias.png"));
  CHECK(store.get("alias.png", mb20)->bytes() == "new");
}

TEST_CASE("local store refuses a FIFO where an object should be, at once",
          "[media][store][paths]") {
  auto mode = GENERATE(beneath_mode::automatic, beneath_mode::component_walk);
  bucket_root root;
  auto fifo = root.path / "images" / "pipe.png";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  local_object_store store(root.path, "images", mode);

  // A blocking open would wait for a writer forever; run it aside so that a
  // regression fails the test instead of hanging it.
  auto call = std::async(std::launch::async, [&] {
    try {
      store.get("pipe.png", mb20);
      return std::string("no error");
    } catch (const storage_error& e) {
      return std::string(e.retryable() ? "retryable: " : "permanent: ") + e.what();
    }
  });
  if (call.wait_for(5s) != std::future_status::ready) {
    // Unblock the stuck reader so that the test can end, then fail.
    int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    call.wait();
    if (w >= 0)
      ::close(w);
    FAIL("get() blocked on a FIFO");
  }
  auto result = call.get();
  CHECK(result.rfind("permanent: ", 0) == 0);
  CHECK(result.find("a FIFO, not a regular file") != std::string::npos);
  CHECK_FALSE(store.exists("pipe.png"));
}

TEST_CASE("local store refuses a directory where an object should be",
          "[media][store][paths]") {
  bucket_root root;
  fs::create_directories(root.path / "images" / "dir.png");
  local_object_store store(root.path, "images");
  CHECK(mentions(error_of([&] { store.get("dir.png", mb20); }), "a directory"));
}
