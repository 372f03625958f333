// The dashboard's JSON API (app/dashboard_api.cpp): every parameter is
// validated before the backend is asked anything, paths outside the routes
// and the embedded files are refused, and actions need the admin token.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "app/dashboard_api.hpp"

using namespace quel;
using json = nlohmann::json;

namespace {

const std::string job_id = "3f2a4b5c-1111-4222-8333-944455556666";

/// Records what was asked; answers with fixed documents.
struct fake_backend : dashboard_backend {
  std::vector<std::string> calls;
  json overview() override {
    calls.push_back("overview");
    return {{"queues", json::array()}};
  }
  json jobs(int limit, int offset, const std::optional<std::string>& status) override {
    calls.push_back("jobs " + std::to_string(limit) + " " + std::to_string(offset) + " "
                    + status.value_or("-"));
    return {{"jobs", json::array()}};
  }
  std::optional<json> job(const std::string& id) override {
    calls.push_back("job " + id);
    if (id == job_id)
      return json{{"job_id", id}};
    return std::nullopt;
  }
  json dead_letters(int limit, int offset) override {
    calls.push_back("dead " + std::to_string(limit) + " " + std::to_string(offset));
    return {{"entries", json::array()}};
  }
  std::optional<image_reply> image(const image_request& r) override {
    calls.push_back("image " + r.job_id + (r.attach_id ? " attach " + std::to_string(*r.attach_id)
                                                       : " " + std::to_string(*r.stage) + "/"
                                                           + std::to_string(*r.image))
                    + (r.thumbnail ? " thumb" : " full"));
    return image_reply{"image/webp", "RIFF....WEBP"};
  }
  json act(const std::string& what, const std::string& target) override {
    calls.push_back("act " + what + " " + target);
    return {{"ok", true}, {"outcome", what}, {"message", what + " " + target}};
  }
};

web_reply call(fake_backend& b, const std::string& line, const std::string& token = "",
                const std::string& extra_headers = "") {
  auto head = line + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n";
  auto r = parse_request_head(head);
  if (!r)
    return web_reply{400, "", "{\"error\":\"malformed\"}", ""};
  return handle_api(*r, b, token);
}

} // namespace

TEST_CASE("dashboard API: lists and a job with valid parameters reach the backend") {
  fake_backend b;
  CHECK(call(b, "GET /api/overview").status == 200);
  CHECK(call(b, "GET /api/jobs").status == 200);
  CHECK(call(b, "GET /api/jobs?limit=200&offset=1000&status=failed").status == 200);
  CHECK(call(b, "GET /api/job?id=" + job_id).status == 200);
  CHECK(call(b, "GET /api/dead?limit=1").status == 200);
  CHECK(call(b, "GET /api/image?job=" + job_id + "&stage=1&image=2").status == 200);
  CHECK(call(b, "GET /api/image?job=" + job_id + "&attach=39070&size=full").status == 200);
  CHECK(b.calls == std::vector<std::string>{
                     "overview", "jobs 50 0 -", "jobs 200 1000 failed", "job " + job_id,
                     "dead 1 0", "image " + job_id + " 1/2 thumb",
                     "image " + job_id + " attach 39070 full"});
}

TEST_CASE("dashboard API: bad parameters are refused before the backend is asked") {
  fake_backend b;
  for (const char* line : {
         "GET /api/jobs?limit=0", "GET /api/jobs?limit=201", "GET /api/jobs?limit=-1",
         "GET /api/jobs?limit=1e3", "GET /api/jobs?offset=1000001", "GET /api/jobs?offset=%201",
         "GET /api/jobs?status=running", "GET /api/jobs?sort=id", "GET /api/jobs?limit=5&limit=6",
         "GET /api/job", "GET /api/job?id=not-a-uuid", "GET /api/job?id=../../etc/passwd",
         "GET /api/job?id=3f2a4b5c-1111-4222-8333-944455556666%00",
         "GET /api/overview?x=1", "GET /api/dead?limit=500",
         "GET /api/image?job=3f2a4b5c-1111-4222-8333-944455556666",
         "GET /api/image?job=3f2a4b5c-1111-4222-8333-944455556666&stage=1",
         "GET /api/image?job=3f2a4b5c-1111-4222-8333-944455556666&stage=1&image=10000",
         "GET /api/image?job=3f2a4b5c-1111-4222-8333-944455556666&stage=1&image=1&attach=2",
         "GET /api/image?job=3f2a4b5c-1111-4222-8333-944455556666&attach=0",
         "GET /api/image?job=3f2a4b5c-1111-4222-8333-944455556666&stage=0&image=0&size=huge",
         "GET /api/image?job=3f2a4b5c-1111-4222-8333-944455556666&stage=0&image=0&key=a/b.webp",
         "GET /api/image?job=x&stage=0&image=0"}) {
    INFO(line);
    auto r = call(b, line);
    CHECK((r.status == 400));
    CHECK(json::parse(r.body).contains("error"));
  }
  CHECK(b.calls.empty());
}

TEST_CASE("dashboard API: unknown paths and methods are refused") {
  fake_backend b;
  CHECK(call(b, "GET /api/").status == 404);
  CHECK(call(b, "GET /api/jobs/../../etc/passwd").status == 404);
  CHECK(call(b, "GET /api/file?path=/etc/passwd").status == 404);
  CHECK(call(b, "DELETE /api/jobs").status == 405);
  CHECK(call(b, "GET /api/job?id=" + std::string{"00000000-0000-4000-8000-000000000000"}).status
        == 404);
  // Malformed heads: a bad percent escape, a control character, no path.
  CHECK(!parse_request_head("GET /api/jobs?limit=%zz HTTP/1.1\r\n\r\n"));
  CHECK(!parse_request_head("GET /api/job%0a HTTP/1.1\r\n\r\n"));
  CHECK(!parse_request_head("GET http://x/api/jobs HTTP/1.1\r\n\r\n"));
  CHECK(!parse_request_head("GET /api/jobs?limit=% HTTP/1.1\r\n\r\n"));
}

TEST_CASE("dashboard API: only the embedded files are served, nothing from disk") {
  auto index = static_reply("/");
  REQUIRE(index);
  CHECK(index->content_type.rfind("text/html", 0) == 0);
  CHECK(index->body.find("/app.js") != std::string::npos);
  REQUIRE(static_reply("/app.js"));
  CHECK(static_reply("/app.js")->content_type.rfind("text/javascript", 0) == 0);
  REQUIRE(static_reply("/style.css"));
  for (const char* path : {"/../CMakeLists.txt", "/etc/passwd", "//etc/passwd", "/app.js/",
                           "/APP.JS", "/dashboard/app.js", "/index.html/..", "/.", ""})
    CHECK_FALSE(static_reply(path));
}

TEST_CASE("dashboard API: actions need a configured token, the right one, and POST") {
  fake_backend b;
  auto requeue = "POST /api/action?do=requeue&id=" + job_id;

  // No token configured: refused however asked, and /api/config says so.
  auto r = call(b, requeue, "", "X-Quel-Admin-Token: anything\r\n");
  CHECK(r.status == 403);
  CHECK(json::parse(r.body)["error"].get<std::string>().find("QUEL_HTTP_ADMIN_TOKEN")
        != std::string::npos);
  CHECK(json::parse(call(b, "GET /api/config").body)["actions_enabled"] == false);
  CHECK(json::parse(call(b, "GET /api/config", "s3cret").body)["actions_enabled"] == true);

  // Configured: no token, a wrong one, a prefix, or a GET are refused.
  CHECK(call(b, requeue, "s3cret").status == 401);
  CHECK(call(b, requeue, "s3cret", "X-Quel-Admin-Token: s3cre\r\n").status == 401);
  CHECK(call(b, requeue, "s3cret", "X-Quel-Admin-Token: s3cret2\r\n").status == 401);
  CHECK(call(b, requeue, "s3cret", "Authorization: Bearer s3cret\r\n").status == 401);
  CHECK(call(b, "GET /api/action?do=requeue&id=" + job_id, "s3cret",
             "X-Quel-Admin-Token: s3cret\r\n").status == 405);
  CHECK(b.calls.empty());

  // The right token: parameters are still validated.
  auto with = [&](const std::string& line) {
    return call(b, line, "s3cret", "x-quel-admin-token:  s3cret \r\n").status;
  };
  CHECK(with("POST /api/action?do=requeue&id=x") == 400);
  CHECK(with("POST /api/action?do=drop&id=" + job_id) == 400);
  CHECK(with("POST /api/action?do=pause&id=a%20b") == 400);
  CHECK(with("POST /api/action?do=retry") == 400);
  CHECK(with("POST /api/action?do=retry&id=" + job_id + "&force=1") == 400);
  CHECK(b.calls.empty());
  CHECK(with(requeue) == 200);
  CHECK(with("POST /api/action?do=retry&id=" + job_id) == 200);
  CHECK(with("POST /api/action?do=cancel&id=" + job_id) == 200);
  CHECK(with("POST /api/action?do=pause&id=quel:queue:fashion") == 200);
  CHECK(with("POST /api/action?do=resume&id=fashion") == 200);
  CHECK(b.calls == std::vector<std::string>{"act requeue " + job_id, "act retry " + job_id,
                                            "act cancel " + job_id,
                                            "act pause quel:queue:fashion",
                                            "act resume fashion"});
}

TEST_CASE("dashboard API: token comparison") {
  CHECK(token_matches("abc", "abc"));
  CHECK_FALSE(token_matches("", ""));
  CHECK_FALSE(token_matches("abc", ""));
  CHECK_FALSE(token_matches("ab", "abc"));
  CHECK_FALSE(token_matches("abcd", "abc"));
  CHECK_FALSE(token_matches("abd", "abc"));
}

TEST_CASE("dashboard API: replies carry headers that keep the browser safe") {
  auto text = render_reply(web_reply{200, "image/webp", "x", "no-store"}, false);
  CHECK(text.find("X-Content-Type-Options: nosniff\r\n") != std::string::npos);
  CHECK(text.find("Content-Security-Policy: default-src 'none'") != std::string::npos);
  CHECK(text.find("Cache-Control: no-store\r\n") != std::string::npos);
  CHECK(text.substr(text.size() - 1) == "x");
  auto head = render_reply(web_reply{200, "image/webp", "xyz", "no-store"}, true);
  CHECK(head.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
}

TEST_CASE("dashboard API: only loopback host names reach a loopback dashboard") {
  auto host = [](const std::string& value) {
    return loopback_host(*parse_request_head("GET / HTTP/1.1\r\nHost: " + value + "\r\n\r\n"));
  };
  CHECK(host("127.0.0.1:9464"));
  CHECK(host("127.1.2.3"));
  CHECK(host("LOCALHOST:80"));
  CHECK(host("[::1]:9464"));
  CHECK(loopback_host(*parse_request_head("GET / HTTP/1.1\r\n\r\n")));
  CHECK_FALSE(host("evil.example:9464"));
  CHECK_FALSE(host("127.0.0.1.evil.example"));
  CHECK_FALSE(host("localhost.evil.example"));
  CHECK_FALSE(host("[::2]:9464"));
  CHECK_FALSE(host("10.0.0.1"));
  CHECK(loopback_addr("127.0.0.1:9464"));
  CHECK(loopback_addr("[::1]:9464"));
  CHECK(loopback_addr("localhost:1"));
  CHECK_FALSE(loopback_addr("0.0.0.0:9464"));
  CHECK_FALSE(loopback_addr(":9464"));
}
