// The byte budget shared by admissions and model replies
// (common/byte_budget.hpp): the reserve kept from admissions, replies before
// admissions, one reply at a time in the reserve, wakes after releases, and
// progress under contention from many threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "common/byte_budget.hpp"

using namespace quel;

namespace {

/// A waker that counts its calls.
struct counted_waker {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  budget_waker fn = std::make_shared<const std::function<void()>>([c = calls] { ++*c; });
  int count() const { return calls->load(); }
};

} // namespace

TEST_CASE("budget: admissions leave the reply reserve free", "[budget]") {
  byte_budget b(1000, 200);
  CHECK(b.admission_limit() == 800);
  CHECK(b.try_admit(500));
  CHECK(b.try_admit(300));
  INFO("the last 200 bytes are the reserve: no admission gets them");
  CHECK_FALSE(b.try_admit(1));
  b.release(300);
  CHECK(b.used() == 500);
  CHECK(b.try_admit(300));
}

TEST_CASE("budget: the reserve is at most a quarter of a small budget", "[budget]") {
  byte_budget b(1000, 16 << 20);
  CHECK(b.admission_limit() == 750);
}

TEST_CASE("budget: an admission larger than the limit is taken alone", "[budget]") {
  byte_budget b(1000, 200);
  CHECK(b.try_admit(10));
  CHECK_FALSE(b.try_admit(5000));
  b.release(10);
  CHECK(b.try_admit(5000));
  CHECK(b.used() == 5000);
}

TEST_CASE("budget: a reply grows as far as the admission limit without the reserve",
          "[budget]") {
  auto b = std::make_shared<byte_budget>(1000, 200);
  counted_waker w;
  reply_reservation r(b);
  CHECK(r.try_grow_to(300, w.fn));
  CHECK(r.try_grow_to(800, w.fn));
  CHECK(r.held() == 800);
  CHECK(b->used() == 800);
  CHECK(b->reply_pauses() == 0);
}

TEST_CASE("budget: one reply at a time grows into the reserve, the next one waits",
          "[budget]") {
  auto b = std::make_shared<byte_budget>(1000, 200);
  counted_waker w;
  CHECK(b->try_admit(700));
  auto first = std::make_unique<reply_reservation>(b);
  reply_reservation second(b);
  INFO("past the admission limit: the first reply takes the reserve");
  CHECK(first->try_grow_to(250, w.fn));
  CHECK(b->used() == 950);
  INFO("the reserve has a holder: the second reply is paused");
  CHECK_FALSE(second.try_grow_to(10, w.fn));
  CHECK(second.held() == 0);
  CHECK(b->replies_waiting() == 1);
  CHECK(b->reply_pauses() == 1);
  INFO("a paused reply keeps admissions out, even ones that would fit");
  b->release(700);
  CHECK(w.count() == 1);
  CHECK_FALSE(b->try_admit(1));
  INFO("the reserve is still held; the freed bytes are under the limit again");
  CHECK(second.try_grow_to(10, w.fn));
  CHECK(b->replies_waiting() == 0);
  CHECK(b->try_admit(1));
  first.reset();
  CHECK(b->used() == 11);
}

TEST_CASE("budget: the holder's end frees the reserve and wakes the paused reply",
          "[budget]") {
  auto b = std::make_shared<byte_budget>(1000, 200);
  counted_waker w;
  CHECK(b->try_admit(800));
  auto holder = std::make_unique<reply_reservation>(b);
  reply_reservation waiting(b);
  CHECK(holder->try_grow_to(200, w.fn));
  CHECK_FALSE(waiting.try_grow_to(100, w.fn));
  holder.reset();
  CHECK(w.count() == 1);
  CHECK(waiting.try_grow_to(100, w.fn));
  CHECK(b->used() == 900);
}

TEST_CASE("budget: a refusal without a waker leaves nothing waiting", "[budget]") {
  auto b = std::make_shared<byte_budget>(1000, 200);
  counted_waker w;
  reply_reservation holder(b);
  CHECK(holder.try_grow_to(900, w.fn));
  reply_reservation other(b);
  CHECK_FALSE(other.try_grow_to(200, nullptr));
  CHECK(b->replies_waiting() == 0);
  holder.shrink_to(0);
  INFO("no reply was left waiting, so room means admission");
  CHECK(b->try_admit(100));
}

TEST_CASE("budget: cover takes bytes already in memory, over the budget if need be",
          "[budget]") {
  auto b = std::make_shared<byte_budget>(1000, 200);
  {
    reply_reservation r(b);
    r.cover(1500);
    CHECK(b->used() == 1500);
    CHECK(b->peak() == 1500);
    CHECK_FALSE(b->try_admit(1));
    r.cover(100);  // never shrinks
    CHECK(r.held() == 1500);
    r.shrink_to(400);
    CHECK(b->used() == 400);
  }
  CHECK(b->used() == 0);
}

TEST_CASE("budget: admissions are woken when the last paused reply goes on", "[budget]") {
  auto b = std::make_shared<byte_budget>(1000, 200);
  counted_waker replies;
  std::atomic<int> admission_wakes{0};
  b->on_admission_room([&] { ++admission_wakes; });
  b->admissions_waiting(true);
  CHECK(b->try_admit(800));
  reply_reservation holder(b);
  CHECK(holder.try_grow_to(200, replies.fn));
  reply_reservation paused(b);
  CHECK_FALSE(paused.try_grow_to(100, replies.fn));
  b->release(800);
  INFO("the release wakes the paused reply, not the admissions");
  CHECK(replies.count() == 1);
  CHECK(admission_wakes == 0);
  CHECK(paused.try_grow_to(100, replies.fn));
  CHECK(admission_wakes == 1);
  b->on_admission_room(nullptr);
  b->release(0);  // no waker left: nothing to call
}

TEST_CASE("budget: a paused reply whose transfer ends stops keeping admissions out",
          "[budget]") {
  auto b = std::make_shared<byte_budget>(1000, 200);
  counted_waker w;
  reply_reservation holder(b);
  CHECK(holder.try_grow_to(1000, w.fn));
  reply_reservation paused(b);
  CHECK_FALSE(paused.try_grow_to(1, w.fn));
  paused.stop_waiting();
  CHECK(b->replies_waiting() == 0);
}

TEST_CASE("budget: many threads' replies all finish and never pass the capacity",
          "[budget]") {
  // 16 threads, each making 40 replies of up to 300 bytes in 37-byte steps,
  // against 1200 bytes with a 300-byte reserve (a whole reply fits in it):
  // paused replies wait on a condition; none may starve and the peak stays
  // inside the capacity.
  auto b = std::make_shared<byte_budget>(1200, 300);
  std::mutex m;
  std::condition_variable cv;
  uint64_t generation = 0;
  auto wake = std::make_shared<const std::function<void()>>([&] {
    std::lock_guard<std::mutex> guard(m);
    ++generation;
    cv.notify_all();
  });
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 40; ++i) {
        reply_reservation r(b);
        int64_t size = 1 + static_cast<int64_t>(rng() % 300);
        for (int64_t got = 0; got < size;) {
          auto next = std::min<int64_t>(size, got + 37);
          uint64_t seen;
          {
            std::lock_guard<std::mutex> guard(m);
            seen = generation;
          }
          if (r.try_grow_to(next, wake)) {
            got = next;
            continue;
          }
          std::unique_lock<std::mutex> lock(m);
          cv.wait_for(lock, std::chrono::seconds(5), [&] { return generation != seen; });
        }
        std::this_thread::yield();
      }
      ++finished;
    });
  for (auto& th : threads)
    th.join();
  CHECK(finished == 16);
  CHECK(b->used() == 0);
  CHECK(b->peak() <= 1200);
  CHECK(b->reply_pauses() > 0);
}
