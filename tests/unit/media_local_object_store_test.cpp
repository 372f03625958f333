#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "adapters/storage/local_object_store.hpp"
#include "tests/unit/media_store_support.hpp"

namespace fs = std::filesystem;
using quel::blob;
using quel::local_object_store;
using quel::storage_error;
using quel::test::read_file;
using quel::test::temp_root;

namespace {

std::set<std::string> regular_files_under(const fs::path& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir))
    return out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out.insert(fs::relative(e.path(), dir).generic_string());
  return out;
}

constexpr int64_t mb20 = 20 * 1024 * 1024;

} // namespace

TEST_CASE("local store keeps object KEY of BUCKET in ROOT/BUCKET/KEY", "[media][store]") {
  temp_root root;
  local_object_store store(root.path, "images");
  const std::string bytes("\x89PNG\r\n\x1a\n\0binary", 15);
  store.put("generated/job-1/s0-i1.webp", blob(bytes), "image/webp");

  auto file = root.path / "images" / "generated" / "job-1" / "s0-i1.webp";
  REQUIRE(fs::is_regular_file(file));
  CHECK(read_file(file) == bytes);
  CHECK(store.exists("generated/job-1/s0-i1.webp"));

  auto got = store.get("generated/job-1/s0-i1.webp", mb20);
  REQUIRE(got.has_value());
  CHECK(got->bytes() == bytes);
}

TEST_CASE("local store reads objects placed by other means", "[media][store]") {
  temp_root root;
  fs::create_directories(root.path / "images" / "uploads");
  std::ofstream(root.path / "images" / "uploads" / "a.jpg", std::ios::binary) << "jpeg!";
  local_object_store store(root.path, "images");
  auto got = store.get("uploads/a.jpg", mb20);
  REQUIRE(got);
  CHECK(got->bytes() == "jpeg!");
}

TEST_CASE("local store overwrite leaves exactly one file with the new bytes",
          "[media][store]") {
  temp_root root;
  local_object_store store(root.path, "images");
  store.put("generated/j/s0-i0.webp", blob(std::string(5000, 'a')), "image/webp");
  store.put("generated/j/s0-i0.webp", blob("second"), "image/webp");

  CHECK(store.get("generated/j/s0-i0.webp", mb20)->bytes() == "second");
  CHECK(regular_files_under(root.path / "images")
        == std::set<std::string>{"generated/j/s0-i0.webp"});
  // No temporary file is left behind anywhere under the root either.
  CHECK(regular_files_under(root.path)
        == std::set<std::string>{"images/generated/j/s0-i0.webp"});
}

TEST_CASE("local store reports a missing object as nullopt", "[media][store]") {
  temp_root root;
  local_object_store store(root.path, "images");
  CHECK_FALSE(store.get("nope/missing.png", mb20).has_value());
  CHECK_FALSE(store.exists("nope/missing.png"));
  store.put("a/b.png", blob("x"), "image/png");
  // A path through an existing file is missing too, not an error.
  CHECK_FALSE(store.get("a/b.png/c", mb20).has_value());
  CHECK_FALSE(store.exists("a/b.png/c"));
  // A directory is not an object.
  CHECK_FALSE(store.exists("a"));
}

TEST_CASE("local store enforces the size cap from the size, before reading",
          "[media][store]") {
  temp_root root;
  local_object_store store(root.path, "images");
  store.put("big.bin", blob(std::string(1000, 'z')), "application/octet-stream");

  CHECK(store.get("big.bin", 1000)->size() == 1000);
  try {
    store.get("big.bin", 999);
    FAIL("an object over the limit was returned");
  } catch (const storage_error& e) {
    CHECK_FALSE(e.retryable());
    CHECK(std::string(e.what()).find("1000 bytes") != std::string::npos);
    CHECK(std::string(e.what()).find("limit of 999") != std::string::npos);
  }

  // The contract's example: a 24 MiB object against the 20 MiB limit.
  fs::resize_file(root.path / "images" / "big.bin", 25165824);
  try {
    store.get("big.bin", mb20);
    FAIL("an object over the limit was returned");
  } catch (const storage_error& e) {
    CHECK(std::string(e.what()).find("25165824 bytes, larger than the limit of 20971520")
          != std::string::npos);
    CHECK_FALSE(e.retryable());
  }

  // A sparse 512 GiB file cannot be read into memory: only a store that
  // checks the size before reading answers with a storage_error here.
  auto sparse = root.path / "images" / "huge.bin";
  std::ofstream(sparse, std::ios::binary).put('x');
  std::error_code ec;
  fs::resize_file(sparse, uintmax_t(512) << 30, ec);
  if (ec) {
    WARN("file system refuses a 512 GiB sparse file: " << ec.message());
    return;
  }
  try {
    store.get("huge.bin", mb20);
    FAIL("an object over the limit was returned");
  } catch (const storage_error& e) {
    CHECK(std::string(e.what()).find("549755813888 bytes") != std::string::npos);
    CHECK_FALSE(e.retryable());
  }
}

TEST_CASE("local store refuses every key that could leave the bucket", "[media][store]") {
  temp_root root;
  fs::create_directories(root.path / "images");
  std::ofstream(root.path / "secret.txt") << "secret";
  local_object_store store(root.path, "images");

  const std::vector<std::string> bad_keys{
    "../x", "a/../../x", "/etc/passwd", "a\\b", "", "..", "a/..", "a/../b",
    "../images/x", std::string("a\0b", 3), "dir/", ".", "./", "a/./b", "a//b",
    std::string(1025, 'k'),
  };
  for (const auto& key : bad_keys) {
    INFO("key: " << key);
    CHECK_THROWS_AS(store.put(key, blob("evil"), "text/plain"), storage_error);
    CHECK_THROWS_AS(store.get(key, mb20), storage_error);
    CHECK_THROWS_AS(store.exists(key), storage_error);
    try {
      store.put(key, blob("evil"), "text/plain");
    } catch (const storage_error& e) {
      CHECK_FALSE(e.retryable());
    }
  }
  CHECK_THROWS_AS(store.get("../secret.txt", mb20), storage_error);
  // Nothing was written anywhere: the root holds only what the test made.
  CHECK(regular_files_under(root.path) == std::set<std::string>{"secret.txt"});
  CHECK(read_file(root.path / "secret.txt") == "secret");
}

TEST_CASE("local store accepts ordinary nested keys", "[media][store]") {
  temp_root root;
  local_object_store store(root.path, "images");
  for (std::string key : {"a", "a.b/c..d/e", "x/.y.png", "deep/er/still/k.jpg"}) {
    INFO("key: " << key);
    CHECK_NOTHROW(store.put(key, blob(key), "text/plain"));
    CHECK(store.get(key, mb20)->bytes() == key);
  }
  CHECK(fs::is_regular_file(root.path / "images" / "a.b" / "c..d" / "e"));
}

TEST_CASE("local store refuses bucket names that are not one directory", "[media][store]") {
  temp_root root;
  for (std::string bucket : {"", "..", ".", "a/b"}) {
    INFO("bucket: " << bucket);
    CHECK_THROWS_AS(local_object_store(root.path, bucket), storage_error);
  }
}

TEST_CASE("local store handles concurrent puts and gets on different keys",
          "[media][store]") {
  temp_root root;
  local_object_store store(root.path, "images");
  constexpr int threads = 8;
  constexpr int per_thread = 40;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto key = "generated/job/s" + std::to_string(t) + "-i" + std::to_string(i) + ".webp";
        std::string payload(1000 + t * 10 + i, static_cast<char>('a' + t));
        store.put(key, blob(payload), "image/webp");
        // Rewriting the same key must still leave one file.
        store.put(key, blob(payload), "image/webp");
        auto got = store.get(key, mb20);
        if (!got || got->bytes() != payload)
          ++mismatches;
      }
    });
  }
  for (auto& th : pool)
    th.join();
  CHECK(mismatches == 0);
  CHECK(regular_files_under(root.path / "images").size() == threads * per_thread);
  CHECK(regular_files_under(root.path).size() == threads * per_thread);
}

TEST_CASE("local store clears staging debris of dead writers at start-up",
          "[media][store]") {
  temp_root root;
  local_object_store first(root.path, "images");
  first.put("k", blob("v"), "text/plain");
  // A new key never touches the staging directory (it is linked into place).
  CHECK_FALSE(fs::exists(first.staging_dir()));
  fs::create_directories(first.staging_dir());
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  // pid 2147483632 does not exist; the parent of this process does.
  auto dead = first.staging_dir() / (std::string(host) + ".2147483632.0.tmp");
  auto live = first.staging_dir()
              / (std::string(host) + "." + std::to_string(::getppid()) + ".0.tmp");
  std::ofstream(dead) << "half";
  std::ofstream(live) << "half";
  local_object_store second(root.path, "images");
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
  CHECK(second.get("k", mb20)->bytes() == "v");
}
