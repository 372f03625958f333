#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "adapters/redis/redis_queue.hpp"
#include "tests/support/test_redis.hpp"

using namespace std::chrono_literals;
using quel::redis_endpoint;
using quel::redis_keys;
using quel::redis_queue;
using quel::test::test_redis;

namespace {

const std::string queue = "jobs:queue";
const std::string processing = redis_keys::processing("node-a", queue);

redis_queue make_queue() {
  return redis_queue(redis_endpoint::parse(quel::test::test_redis_url()));
}

} // namespace

TEST_CASE("take moves the id atomically into the processing list", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  r.lpush(queue, "id-1");

  auto id = q.take(queue, processing, 1s);
  REQUIRE(id);
  CHECK(*id == "id-1");
  CHECK(r.llen(queue) == 0);
  CHECK(r.lrange(processing) == std::vector<std::string>{"id-1"});
}

TEST_CASE("take is FIFO with LPUSH producers", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  for (auto id : {"first", "second", "third"})
    r.lpush(queue, id);

  std::vector<std::string> taken;
  while (auto id = q.take(queue, processing, 100ms))
    taken.push_back(*id);
  CHECK(taken == std::vector<std::string>{"first", "second", "third"});
  // Newest taken sits at index 0 of the processing list.
  CHECK(r.lrange(processing) == std::vector<std::string>{"third", "second", "first"});
}

TEST_CASE("take on an empty queue returns nullopt after about the timeout",
          "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  auto start = std::chrono::steady_clock::now();
  auto id = q.take(queue, processing, 400ms);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK_FALSE(id);
  CHECK(took >= 350ms);
  CHECK(took < 1500ms);
  CHECK(r.llen(processing) == 0);
}

TEST_CASE("take waits longer than the normal socket timeout without dying",
          "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  // The socket timeout for plain commands is shorter than this wait: take
  // must raise it, or hiredis would time out and kill the connection.
  quel::redis_timeouts t;
  t.io = 200ms;
  t.blocking_margin = 300ms;
  redis_queue q(redis_endpoint::parse(quel::test::test_redis_url()), t);
  CHECK_FALSE(q.take(queue, processing, 700ms));
  r.lpush(queue, "after-wait");
  auto id = q.take(queue, processing, 700ms);
  REQUIRE(id);
  CHECK(*id == "after-wait");
  CHECK(q.length(processing) == 1);  // a plain command still works after it
}

TEST_CASE("take with a zero timeout does not wait", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(q.take(queue, processing, 0ms));
  CHECK(std::chrono::steady_clock::now() - start < 300ms);
  r.lpush(queue, "now");
  auto id = q.take(queue, processing, 0ms);
  REQUIRE(id);
  CHECK(*id == "now");
  CHECK(r.lrange(processing) == std::vector<std::string>{"now"});
}

TEST_CASE("a blocked take wakes up when an id is pushed", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  std::thread producer([] {
    std::this_thread::sleep_for(200ms);
    auto p = make_queue();
    p.push(queue, "late");
  });
  auto start = std::chrono::steady_clock::now();
  auto id = q.take(queue, processing, 5s);
  auto took = std::chrono::steady_clock::now() - start;
  producer.join();
  REQUIRE(id);
  CHECK(*id == "late");
  CHECK(took < 3s);
}

TEST_CASE("values are binary-safe", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  const std::string odd("a b\r\n%s\0z", 9);
  q.push(queue, odd);
  CHECK(r.lrange(queue) == std::vector<std::string>{odd});
  auto id = q.take(queue, processing, 1s);
  REQUIRE(id);
  CHECK(*id == odd);
  q.ack(processing, odd);
  CHECK(r.llen(processing) == 0);
}

TEST_CASE("ack removes only the acknowledged id", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  r.lpush(queue, "a");
  r.lpush(queue, "b");
  REQUIRE(q.take(queue, processing, 1s) == std::optional<std::string>("a"));
  REQUIRE(q.take(queue, processing, 1s) == std::optional<std::string>("b"));
  q.ack(processing, "a");
  CHECK(r.lrange(processing) == std::vector<std::string>{"b"});
  q.ack(processing, "missing");  // acking twice or a stranger is harmless
  CHECK(r.lrange(processing) == std::vector<std::string>{"b"});
}

TEST_CASE("requeue puts the id where it is taken next", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  r.lpush(queue, "x");
  r.lpush(queue, "y");
  r.lpush(queue, "z");
  REQUIRE(q.take(queue, processing, 1s) == std::optional<std::string>("x"));
  q.requeue(processing, queue, "x");
  CHECK(r.llen(processing) == 0);
  CHECK(r.lrange(queue) == std::vector<std::string>{"z", "y", "x"});
  auto next = q.take(queue, processing, 1s);
  REQUIRE(next);
  CHECK(*next == "x");
}

TEST_CASE("reclaim_all returns everything, the first taken is taken first again",
          "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  for (auto id : {"1", "2", "3", "4"})
    r.lpush(queue, id);
  for (int i = 0; i < 3; ++i)
    REQUIRE(q.take(queue, processing, 1s));
  REQUIRE(r.llen(processing) == 3);

  CHECK(q.reclaim_all(processing, queue) == 3);
  CHECK(r.llen(processing) == 0);
  CHECK(r.llen(queue) == 4);

  std::vector<std::string> order;
  while (auto id = q.take(queue, processing, 100ms))
    order.push_back(*id);
  CHECK(order == std::vector<std::string>{"1", "2", "3", "4"});
  CHECK(q.reclaim_all(redis_keys::processing("nobody", queue), queue) == 0);
}

TEST_CASE("push, range, length and remove", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  q.push("jobs:queue:cinema", "p");
  q.push("jobs:queue:cinema", "q");
  q.push("jobs:queue:cinema", "p");
  CHECK(q.length("jobs:queue:cinema") == 3);
  CHECK(q.range("jobs:queue:cinema") == std::vector<std::string>{"p", "q", "p"});
  CHECK(q.range("jobs:queue:cinema", 1, 1) == std::vector<std::string>{"q"});
  CHECK(q.remove("jobs:queue:cinema", "p"));
  CHECK(r.lrange("jobs:queue:cinema") == std::vector<std::string>{"q"});
  CHECK_FALSE(q.remove("jobs:queue:cinema", "p"));
  CHECK(q.length("jobs:queue:none") == 0);
}

TEST_CASE("holds_any finds an id in any of several processing lists", "[redis][queue]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  auto a = quel::redis_keys::processing("node-a", "jobs:queue");
  auto b = quel::redis_keys::processing("node-a", "jobs:queue:beauty");
  q.push(b, "other");
  q.push(b, "job-1");
  CHECK(q.holds_any({a, b}, "job-1"));
  CHECK_FALSE(q.holds_any({a, b}, "job-2"));
  CHECK_FALSE(q.holds_any({a}, "job-1"));
  CHECK_FALSE(q.holds_any({}, "job-1"));
}

TEST_CASE("dead_letter pushes the 4-field JSON onto jobs:dead", "[redis][dead]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  q.dead_letter({"first", "jobs:queue", "no job row", "2025-05-01T10:00:00Z"});
  q.dead_letter({"second", "jobs:queue:eats", "not a UUID", "2025-05-01T10:00:01Z"});
  auto entries = r.lrange("jobs:dead");
  REQUIRE(entries.size() == 2);
  auto newest = nlohmann::json::parse(entries[0]);
  CHECK(newest.size() == 4);
  CHECK(newest.at("id") == "second");
  CHECK(newest.at("queue") == "jobs:queue:eats");
  CHECK(newest.at("reason") == "not a UUID");
  CHECK(newest.at("at") == "2025-05-01T10:00:01Z");
  CHECK(nlohmann::json::parse(entries[1]).at("id") == "first");
}

TEST_CASE("node lease: renew, alive, expiry, drop, forget", "[redis][lease]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  CHECK_FALSE(q.node_alive("n1"));
  CHECK(q.known_nodes().empty());

  using namespace std::chrono;
  auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  q.renew_node_lease("n1", 300ms);
  q.renew_node_lease("n2", 10s);
  CHECK(q.node_alive("n1"));
  CHECK(q.known_nodes() == std::vector<std::string>{"n1", "n2"});
  auto stamp = std::stoll(r.command({"GET", "quel:node:n1"}));
  CHECK(stamp >= before);
  CHECK(stamp <= before + 5000);
  auto ttl = r.pttl("quel:node:n1");
  CHECK(ttl > 0);
  CHECK(ttl <= 300);

  std::this_thread::sleep_for(450ms);
  CHECK_FALSE(q.node_alive("n1"));
  CHECK(q.node_alive("n2"));
  // Expiry ends the lease but not the membership: survivors find the node
  // and reclaim its ids before forgetting it.
  CHECK(q.known_nodes() == std::vector<std::string>{"n1", "n2"});

  q.renew_node_lease("n1", 10s);
  CHECK(q.node_alive("n1"));
  q.drop_node_lease("n1");
  CHECK_FALSE(q.node_alive("n1"));
  q.forget_node("n1");
  CHECK(q.known_nodes() == std::vector<std::string>{"n2"});
}

TEST_CASE("has_processing_lists sees a node's lists of any queue, and only its own",
          "[redis][lease]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  CHECK_FALSE(q.has_processing_lists("node-a"));
  r.lpush(redis_keys::processing("node-a-b", "jobs:queue:beauty"), "x");
  r.lpush(redis_keys::processing("other", "jobs:queue"), "y");
  for (int i = 0; i < 50; ++i)  // more keys than one SCAN step may return
    r.lpush("noise:" + std::to_string(i), "z");
  CHECK_FALSE(q.has_processing_lists("node-a"));
  r.lpush(redis_keys::processing("node-a", "jobs:queue:beauty"), "id");
  CHECK(q.has_processing_lists("node-a"));
}

TEST_CASE("an error reply throws runtime_error and keeps the connection",
          "[redis][errors]") {
  QUEL_REQUIRE_TEST_REDIS();
  test_redis r;
  auto q = make_queue();
  r.command({"SET", "not-a-list", "v"});
  try {
    q.push("not-a-list", "id");
    FAIL("push onto a string key succeeded");
  } catch (const quel::redis_unavailable&) {
    FAIL("an error reply was reported as an outage");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("WRONGTYPE"));
  }
  CHECK_THROWS_AS(q.take("not-a-list", processing, 200ms), std::runtime_error);
  // The same connection goes on working, with its normal socket timeout.
  q.push(queue, "ok");
  CHECK(q.length(queue) == 1);
  CHECK(q.ping());
}

// These two start their own server, so they need no QUEL_TEST_REDIS_URL.
TEST_CASE("SELECT puts the keys in the database named by the URL", "[redis][url]") {
  quel::test::redis_server_process server;
  redis_queue db3(redis_endpoint::parse(server.url(3)));
  db3.push(queue, "in-db-3");
  test_redis in3(server.url(3));
  test_redis in0(server.url(0));
  CHECK(in3.lrange(queue) == std::vector<std::string>{"in-db-3"});
  CHECK(in0.llen(queue) == 0);
}

TEST_CASE("AUTH with a password, and with a user name and password", "[redis][url]") {
  quel::test::redis_server_process server(
      {"--requirepass", "s3cret", "--user", "alice", "on", ">alice-pw", "~*", "&*", "+@all"});
  auto base = "127.0.0.1:" + std::to_string(server.port());

  redis_queue by_password(redis_endpoint::parse("redis://:s3cret@" + base + "/0"));
  by_password.push(queue, "a");
  CHECK(by_password.length(queue) == 1);

  redis_queue by_user(redis_endpoint::parse("redis://alice:alice-pw@" + base + "/0"));
  CHECK(by_user.length(queue) == 1);

  redis_queue wrong(redis_endpoint::parse("redis://:nope@" + base + "/0"));
  try {
    wrong.length(queue);
    FAIL("a wrong password was accepted");
  } catch (const quel::redis_unavailable&) {
    FAIL("a wrong password was reported as an outage");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(std::string(e.what()), !Catch::Contains("nope"));
  }
  CHECK_FALSE(wrong.ping());

  redis_queue none(redis_endpoint::parse("redis://" + base + "/0"));
  CHECK_THROWS_AS(none.length(queue), std::runtime_error);  // NOAUTH
}
