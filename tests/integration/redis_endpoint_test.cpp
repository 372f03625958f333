#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "adapters/redis/redis_queue.hpp"

using quel::dead_letter_entry;
using quel::redis_endpoint;
using quel::redis_keys;

TEST_CASE("redis URL: host, port and db", "[redis][url]") {
  auto ep = redis_endpoint::parse("redis://10.1.2.3:6380/4");
  CHECK(ep.host == "10.1.2.3");
  CHECK(ep.port == 6380);
  CHECK(ep.db == 4);
  CHECK(ep.username.empty());
  CHECK(ep.password.empty());
}

TEST_CASE("redis URL: defaults for port and db", "[redis][url]") {
  auto ep = redis_endpoint::parse("redis://cache.internal");
  CHECK(ep.host == "cache.internal");
  CHECK(ep.port == 6379);
  CHECK(ep.db == 0);
  auto slash = redis_endpoint::parse("redis://cache.internal:7000/");
  CHECK(slash.port == 7000);
  CHECK(slash.db == 0);
}

TEST_CASE("redis URL: user and password, percent-decoded", "[redis][url]") {
  auto ep = redis_endpoint::parse("redis://worker%40eu:p%3Ass%2Fw%25rd@redis:6379/2");
  CHECK(ep.username == "worker@eu");
  CHECK(ep.password == "p:ss/w%rd");
  CHECK(ep.host == "redis");
  CHECK(ep.db == 2);
}

TEST_CASE("redis URL: password only", "[redis][url]") {
  auto ep = redis_endpoint::parse("redis://:s3cret@127.0.0.1:6379/0");
  CHECK(ep.username.empty());
  CHECK(ep.password == "s3cret");
}

TEST_CASE("redis URL: an unencoded '@' in the password", "[redis][url]") {
  auto ep = redis_endpoint::parse("redis://u:a@b@host:1234");
  CHECK(ep.username == "u");
  CHECK(ep.password == "a@b");
  CHECK(ep.host == "host");
  CHECK(ep.port == 1234);
}

TEST_CASE("redis URL: bracketed IPv6 host", "[redis][url]") {
  auto ep = redis_endpoint::parse("redis://[::1]:6390/1");
  CHECK(ep.host == "::1");
  CHECK(ep.port == 6390);
  CHECK(ep.db == 1);
}

TEST_CASE("redis URL: rediss:// is rejected with a clear reason", "[redis][url]") {
  try {
    redis_endpoint::parse("rediss://user:pw@host:6380/0");
    FAIL("rediss:// was accepted");
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("TLS"));
    CHECK_THAT(what, !Catch::Contains("pw"));
  }
}

TEST_CASE("redis URL: malformed URLs are rejected", "[redis][url]") {
  for (const char* bad : {"", "http://host", "127.0.0.1:6379", "redis://", "redis://:6379",
                          "redis://host:", "redis://host:0", "redis://host:65536",
                          "redis://host:abc", "redis://host/x", "redis://host/-1",
                          "redis://host?db=1", "redis://[::1", "redis://u:%zz@host",
                          "redis://u:%4@host"}) {
    INFO("url: " << bad);
    CHECK_THROWS_AS(redis_endpoint::parse(bad), std::invalid_argument);
  }
}

TEST_CASE("redis URL: errors never echo the password", "[redis][url]") {
  try {
    redis_endpoint::parse("redis://user:topsecret@host:notaport/0");
    FAIL("bad port was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(std::string(e.what()), !Catch::Contains("topsecret"));
  }
}

TEST_CASE("redis keys: the worker's own key names", "[redis][keys]") {
  CHECK(redis_keys::processing("node-1", "jobs:queue:beauty") ==
        "quel:processing:node-1:jobs:queue:beauty");
  CHECK(redis_keys::node_lease("node-1") == "quel:node:node-1");
  CHECK(redis_keys::nodes() == "quel:nodes");
  CHECK(redis_keys::dead_letter() == "jobs:dead");
}

TEST_CASE("dead-letter JSON has exactly id, queue, reason and at", "[redis][dead]") {
  dead_letter_entry e{"not-a-uuid \"quoted\"", "jobs:queue:eats", "no job row",
                      "2025-01-02T03:04:05.678Z"};
  auto j = nlohmann::json::parse(e.to_json());
  REQUIRE(j.is_object());
  CHECK(j.size() == 4);
  CHECK(j.at("id") == "not-a-uuid \"quoted\"");
  CHECK(j.at("queue") == "jobs:queue:eats");
  CHECK(j.at("reason") == "no job row");
  CHECK(j.at("at") == "2025-01-02T03:04:05.678Z");
}

TEST_CASE("dead-letter JSON survives ids that are not UTF-8", "[redis][dead]") {
  dead_letter_entry e{std::string("bad\xff\xfe", 5), "jobs:queue", "not a UUID",
                      "2025-01-02T03:04:05Z"};
  std::string text;
  REQUIRE_NOTHROW(text = e.to_json());
  auto j = nlohmann::json::parse(text);
  CHECK(j.size() == 4);
  CHECK(j.at("id").get<std::string>().rfind("bad", 0) == 0);
}
