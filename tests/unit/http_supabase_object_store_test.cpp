#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "adapters/supabase/supabase_object_store.hpp"
#include "tests/standins/standin_process.hpp"
#include "tests/standins/supabase_standin_settings.hpp"

// The blocking Supabase Storage store (the dashboard's API threads read
// thumbnails' sources through it) against the stand-in speaking the real
// wire format: what it writes it reads back, a missing object is nullopt,
// oversized objects and refused keys throw, and a wrong key is no success.

using namespace quel;
using quel::test::standin_process;

namespace {

const std::string secret_key = "sb_secret_object_store_test";

standin_process& storage() {
  static standin_process server("supabase_standin.py",
                                {"--key", secret_key, "--buckets", "images"});
  return server;
}

supabase_settings settings() { return quel::test::standin_supabase_settings(storage(), secret_key); }

} // namespace

TEST_CASE("blocking supabase store: put, exists, get round trip", "[http][supabase][store]") {
  supabase_object_store store{settings()};
  std::string bytes(70000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i * 7);
  CHECK_FALSE(store.exists("jobs/j1/s0_i0.png"));
  store.put("jobs/j1/s0_i0.png", blob(bytes), "image/png");
  CHECK(store.exists("jobs/j1/s0_i0.png"));
  auto got = store.get("jobs/j1/s0_i0.png", 1 << 20);
  REQUIRE(got);
  CHECK(std::string(got->bytes().begin(), got->bytes().end()) == bytes);
  // Writing again overwrites (x-upsert), as the worker's retries need.
  store.put("jobs/j1/s0_i0.png", blob(std::string("second")), "image/png");
  got = store.get("jobs/j1/s0_i0.png", 1 << 20);
  REQUIRE(got);
  CHECK(std::string(got->bytes().begin(), got->bytes().end()) == "second");
}

TEST_CASE("blocking supabase store: missing, oversized, refused keys, wrong key",
          "[http][supabase][store]") {
  supabase_object_store store{settings()};
  CHECK_FALSE(store.get("nope/none.png", 1 << 20).has_value());

  store.put("big/object.png", blob(std::string(5000, 'x')), "image/png");
  CHECK_THROWS_AS(store.get("big/object.png", 100), storage_error);

  // Refused before any request: the one key validator of both backends.
  CHECK_THROWS_AS(store.get("../escape.png", 1 << 20), storage_error);
  CHECK_THROWS_AS(store.get("a//b.png", 1 << 20), storage_error);

  auto wrong = settings();
  wrong.key = "sb_secret_not_the_key";
  supabase_object_store denied{wrong};
  try {
    denied.get("big/object.png", 1 << 20);
    FAIL("a wrong key read an object");
  } catch (const storage_error& e) {
    CHECK_FALSE(e.retryable());
    // The reason names the call, never the key.
    CHECK(std::string(e.what()).find("Supabase Storage download") != std::string::npos);
    CHECK(std::string(e.what()).find("sb_secret_not_the_key") == std::string::npos);
  }
}
