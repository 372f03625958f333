// Replies counted in the byte budget as they arrive (http_request::
// reply_bytes): a body that does not fit pauses its transfer until bytes
// come back, then it finishes intact; the budget never goes past its
// capacity; and what a finished reply holds is exactly its body.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/http/http_engine.hpp"
#include "tests/standins/engine_sync.hpp"
#include "tests/standins/standin_process.hpp"

using namespace quel;
using namespace std::chrono_literals;
using quel::test::run_sync;
using quel::test::standin_process;

namespace {

standin_process& blob_server() {
  static standin_process server("gemini_standin.py", {"--key", "test-key"});
  return server;
}

http_request blob_request(int64_t bytes, bool chunked,
                          std::shared_ptr<reply_reservation> reservation) {
  http_request r;
  r.url = blob_server().base_url() + "/__blob?bytes=" + std::to_string(bytes)
          + (chunked ? "&chunked=1" : "");
  r.reply_bytes = std::move(reservation);
  return r;
}

bool all_x(const std::string& body) {
  return body.find_first_not_of('x') == std::string::npos;
}

/// Runs the engine until `done` or 30 s.
template <class Pred>
bool run_until(http_engine& engine, Pred done) {
  auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!done() && std::chrono::steady_clock::now() < give_up)
    engine.run_once(20ms);
  return done();
}

} // namespace

TEST_CASE("engine budget: a finished reply holds exactly its body", "[http][engine][budget]") {
  auto budget = std::make_shared<byte_budget>(int64_t{8} << 20, int64_t{1} << 20);
  http_engine engine;
  for (bool chunked : {false, true}) {
    auto reservation = std::make_shared<reply_reservation>(budget);
    auto r = run_sync(engine, blob_request(700000, chunked, reservation));
    REQUIRE(r.failure == http_failure::none);
    CHECK(r.body.size() == 700000);
    CHECK(all_x(r.body));
    CHECK(reservation->held() == 700000);
    CHECK(budget->used() == 700000);
    reservation.reset();
    CHECK(budget->used() == 0);
  }
}

TEST_CASE("engine budget: a reply paused for want of bytes resumes when they come back",
          "[http][engine][budget]") {
  // 1 MiB with a 256 KiB reserve; something else holds 900 KB of it, and
  // another reply holds the reserve, so a 300 KB reply cannot start.
  auto budget = std::make_shared<byte_budget>(int64_t{1} << 20, int64_t{256} << 10);
  auto other = std::make_shared<reply_reservation>(budget);
  other->cover(900000);
  auto reserve_holder = std::make_shared<reply_reservation>(budget);
  REQUIRE(reserve_holder->try_grow_to(1000, nullptr));
  http_engine engine;
  auto reservation = std::make_shared<reply_reservation>(budget);
  std::optional<http_response> got;
  engine.submit(blob_request(300000, false, reservation),
                [&](http_response&& r) { got = std::move(r); });
  REQUIRE(run_until(engine, [&] { return engine.paused() == 1; }));
  for (int i = 0; i < 20; ++i)  // stays paused while nothing comes back
    engine.run_once(10ms);
  CHECK_FALSE(got);
  CHECK(engine.paused() == 1);
  CHECK(budget->replies_waiting() == 1);
  INFO("released from another thread: the budget wakes the engine");
  std::thread([&] { other.reset(); }).join();
  REQUIRE(run_until(engine, [&] { return got.has_value(); }));
  CHECK(got->failure == http_failure::none);
  CHECK(got->body.size() == 300000);
  CHECK(all_x(got->body));
  CHECK(engine.paused() == 0);
  CHECK(reservation->held() == 300000);
}

TEST_CASE("engine budget: many large replies through a small budget all finish inside it",
          "[http][engine][budget]") {
  // Twelve replies of 400 KB (half of them chunked) through 1.5 MiB with a
  // 384 KiB reserve: about three fit at once; the others pause and go on
  // as finished ones give their bytes back.
  auto budget = std::make_shared<byte_budget>(int64_t{3} << 19, int64_t{384} << 10);
  http_engine engine;
  constexpr int total = 12;
  int finished = 0;
  int intact = 0;
  for (int i = 0; i < total; ++i) {
    auto reservation = std::make_shared<reply_reservation>(budget);
    // The callback keeps the reply's bytes a moment, as an image would.
    engine.submit(blob_request(400000, i % 2 == 1, reservation),
                  [&, reservation](http_response&& r) mutable {
                    ++finished;
                    if (r.failure == http_failure::none && r.body.size() == 400000
                        && all_x(r.body) && reservation->held() == 400000)
                      ++intact;
                  });
  }
  REQUIRE(run_until(engine, [&] { return finished == total; }));
  CHECK(intact == total);
  CHECK(budget->reply_pauses() > 0);
  CHECK(budget->peak() <= budget->capacity());
  CHECK(budget->used() == 0);
}
