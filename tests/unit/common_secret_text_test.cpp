// Secrets in every form are masked by form (connection strings, query
// parameters, headers) and by value (registered secrets), wherever they
// appear in a text (docs/SECURITY.md).
#include <catch2/catch.hpp>

#include "common/log_text.hpp"
#include "common/secret_text.hpp"

using namespace quel;

namespace {

/// Clears the registry before and after a test.
struct fresh_registry {
  fresh_registry() { clear_registered_secrets(); }
  ~fresh_registry() { clear_registered_secrets(); }
};

} // namespace

TEST_CASE("connection strings in URI and keyword form lose their password", "[secrets]") {
  struct row {
    const char* dsn;
    const char* masked;
  };
  const row rows[] = {
    {"postgresql://u:pw-1234@db.example:5432/app", "postgresql://u:***@db.example:5432/app"},
    {"postgres://u:p%40ss%2Fw@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require"},
    // An unencoded '@' or '/' in the password: the userinfo ends at the last '@'.
    {"postgresql://u:p@ss/w@h/db", "postgresql://u:***@h/db"},
    {"postgresql://h/db?user=u&password=qs-secret&sslmode=require",
     "postgresql://h/db?user=u&password=***&sslmode=require"},
    {"postgresql://h/db?PASSWORD=qs-secret", "postgresql://h/db?PASSWORD=***"},
    {"host=h port=5432 user=u password=kw-secret dbname=app",
     "host=h port=5432 user=u password=*** dbname=app"},
    {"host=h password = 'a b\\' c' dbname=app", "host=h password = '***' dbname=app"},
    {"password='unterminated secret", "password='***"},
    {"host=h sslpassword=keypass", "host=h sslpassword=***"},
    {"redis://:redis-pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"},
    {"redis://user:redis-pw@127.0.0.1:6379/0", "redis://user:***@127.0.0.1:6379/0"},
    {"redis://user@127.0.0.1:6379/0", "redis://user@127.0.0.1:6379/0"},
    {"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
    {"postgresql://postgres@127.0.0.1:5432/postgres",
     "postgresql://postgres@127.0.0.1:5432/postgres"},
  };
  for (auto& r : rows) {
    INFO(r.dsn);
    CHECK(mask_connection_string(r.dsn) == r.masked);
  }
}

TEST_CASE("the passwords of a connection string are found as written and decoded",
          "[secrets]") {
  using v = std::vector<std::string>;
  CHECK(secrets_in_connection_string("postgresql://u:p%40ss@h/db") == v{"p%40ss", "p@ss"});
  CHECK(secrets_in_connection_string("postgresql://h/db?password=qs-secret")
        == v{"qs-secret"});
  CHECK(secrets_in_connection_string("host=h password='a b\\'c'") == v{"a b\\'c", "a b'c"});
  CHECK(secrets_in_connection_string("redis://:redis-pw@h:6379") == v{"redis-pw"});
  CHECK(secrets_in_connection_string("postgresql://postgres@h/db").empty());
}

TEST_CASE("secret-bearing forms are masked inside any text", "[secrets]") {
  fresh_registry guard;
  struct row {
    const char* text;
    const char* masked;
  };
  const row rows[] = {
    {"POST https://g.example/v1beta/models/m:generateContent?key=AIzaSyKEY123 failed",
     "POST https://g.example/v1beta/models/m:generateContent?key=*** failed"},
    {"GET /x?alt=json&key=AIzaSyKEY123#frag", "GET /x?alt=json&key=***#frag"},
    {"Authorization: Bearer eyJhbGciOi.abc.def\nHost: x", "Authorization: ***\nHost: x"},
    {"apikey: sb_secret_abc", "apikey: ***"},
    {"x-goog-api-key:AIzaSyKEY123", "x-goog-api-key:***"},
    {R"({"headers":{"apikey":"sb_secret_abc","x":1}})", R"({"headers":{"apikey":"***","x":1}})"},
    {R"(error: "password": "hunter22")", R"(error: "password": "***")"},
    {"could not connect: postgresql://u:pw-1234@h/db refused",
     "could not connect: postgresql://u:***@h/db refused"},
    // Words that merely look alike stay.
    {"object key=generated/j/s0-i0.webp missing", "object key=generated/j/s0-i0.webp missing"},
    {"FATAL: password authentication failed for user \"u\"",
     "FATAL: password authentication failed for user \"u\""},
    {"monkey=1 passwords=2", "monkey=1 passwords=2"},
  };
  for (auto& r : rows) {
    INFO(r.text);
    CHECK(redact_secrets(r.text) == r.masked);
  }
}

TEST_CASE("registered secret values are removed from any text", "[secrets]") {
  fresh_registry guard;
  register_secret("AIzaSy-known-gemini-key");
  register_connection_secrets("postgresql://u:p%40ss-word@h/db");
  register_secret("abc");  // too short to redact: ignored
  auto out = redact_secrets("API key not valid: AIzaSy-known-gemini-key. Please pass a "
                            "valid key (p@ss-word, p%40ss-word) abc");
  CHECK(out == "API key not valid: ***. Please pass a valid key (***, ***) abc");
}

TEST_CASE("a secret cut by the length limit is never half shown", "[secrets][logs]") {
  fresh_registry guard;
  const std::string secret = "0123456789-long-secret-value";
  register_secret(secret);
  for (size_t cut = 0; cut < secret.size(); ++cut) {
    // A huge text whose secret straddles the place a prefix is taken.
    std::string text(1000 + 4096 - cut, 'x');
    text += secret;
    text += std::string(100000, 'y');
    auto out = redact_and_clip(text, 1000);
    INFO("cut " << cut);
    CHECK(out.find(secret.substr(0, 6)) == std::string::npos);
    CHECK(out.size() < 1100);
  }
  // Many masks shrink the prefix under the limit: still no half secret.
  std::string many;
  while (many.size() < 1000 + 4096 + 10)
    many += secret;
  auto out = redact_and_clip(many + std::string(50000, 'z'), 1000);
  CHECK(out.find("0123") == std::string::npos);
  CHECK(out.find("truncated") != std::string::npos);
}

TEST_CASE("long text is clipped on a character boundary with a marker", "[logs]") {
  CHECK(clip_text("short", 200) == "short");
  auto out = clip_text(std::string(300, 'a'), 200);
  CHECK(out == std::string(200, 'a') + "...[truncated, 300 bytes]");
  // "é" is two bytes: the cut moves back rather than split it.
  std::string accents;
  for (int i = 0; i < 150; ++i)
    accents += "\xC3\xA9";
  auto cut = clip_text(accents, 201);
  CHECK(cut.substr(0, 200) == accents.substr(0, 200));
  CHECK(cut[200] == '.');
}

TEST_CASE("control characters are made visible", "[logs]") {
  CHECK(escape_controls("plain text, ünïcödé") == "plain text, ünïcödé");
  CHECK(escape_controls("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(escape_controls("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
  CHECK(escape_controls(std::string("nul\0x", 5)) == "nul\\x00x");
  CHECK(escape_controls("del\x7f") == "del\\x7f");
  CHECK(escape_controls("c1\xC2\x85" "csi\xC2\x9B") == "c1\\u0085csi\\u009b");
  CHECK(escape_controls("ls\xE2\x80\xA8ps\xE2\x80\xA9") == "ls\\u2028ps\\u2029");
  // A raw 8-bit CSI (0x9B) or any byte that is not UTF-8.
  CHECK(escape_controls("raw\x9b" "2J\xff") == "raw\\x9b2J\\xff");
  CHECK(escape_controls("\xC0\xAF") == "\\xc0\\xaf");  // overlong '/'
}
