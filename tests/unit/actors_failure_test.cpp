// Failures end to end: a backend's reply or exception, classified by the
// adapter, turned into the actor error by to_error, as the production actors
// (Supabase, Gemini, local fetch) deliver it to the stage.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "actors/fetch_actor.hpp"
#include "actors/gemini_generate_actor.hpp"
#include "actors/supabase_storage_actors.hpp"
#include "adapters/storage/local_object_store.hpp"
#include "messages/errors.hpp"
#include "tests/support/worker_harness.hpp"

using namespace quel;
using namespace std::chrono_literals;
using quel::test::make_temp_dir;

namespace {

/// An engine that answers every transfer with `reply`.
http_engine_actor::behavior_type canned_engine(http_engine_actor::pointer, http_response reply) {
  return {
    [reply](http_atom, const http_request&) { return reply; },
    [](http_poll_atom) {},
  };
}

http_response reply(int status, const std::string& body) {
  http_response r;
  r.status = status;
  r.body = body;
  return r;
}

const std::string no_such_key =
  R"({"statusCode":"404","code":"NoSuchKey","error":"not_found","message":"Object not found"})";

struct system_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};

  http_engine_actor engine(http_response r) { return sys.spawn(canned_engine, std::move(r)); }

  /// The error of a request that must fail (FAILs on a `Result`).
  template <class Result, class Handle, class... Ts>
  caf::error error_of(const Handle& h, Ts&&... xs) {
    caf::error out;
    self->request(h, 10s, std::forward<Ts>(xs)...)
      .receive([&](Result&) { FAIL("the request succeeded"); },
               [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

supabase_settings storage_settings() {
  supabase_settings s;
  s.url = "http://127.0.0.1:1";  // never dialled: the engine is canned
  s.key = "sb_secret_x";
  return s;
}

} // namespace

TEST_CASE_METHOD(system_fixture, "a storage 404 reaches the stage as object_missing",
                 "[actors][failure]") {
  auto fetcher = sys.spawn(supabase_fetch_actor_impl, storage_settings(),
                           engine(reply(400, no_such_key)));
  auto err = error_of<blob>(fetcher, fetch_atom::value, std::string("in/a.png"), int64_t{1 << 20});
  CHECK(has_code(err, worker_errc::object_missing));
  CHECK(retry_class_of(err) == retry_class::object_missing);
  CHECK(reason_of(err) == "object not found: in/a.png");
  CHECK_FALSE(is_retryable(err));

  bool found = true;
  self->request(fetcher, 10s, exists_atom::value, std::string("in/a.png"))
    .receive([&](bool b) { found = b; }, [&](caf::error& e) { FAIL(reason_of(e)); });
  CHECK_FALSE(found);
  caf::anon_send_exit(fetcher, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(system_fixture, "a storage 404 on upload is a permanent error",
                 "[actors][failure]") {
  auto storer = sys.spawn(supabase_store_actor_impl, storage_settings(),
                          engine(reply(400, no_such_key)));
  auto err = error_of<int64_t>(storer, store_atom::value, std::string("out/a.webp"),
                      blob(std::string("x")), std::string("image/webp"));
  CHECK(has_code(err, worker_errc::permanent));
  CHECK(reason_of(err) == "storage HTTP 400 (statusCode 404) NoSuchKey: Object not found");
  caf::anon_send_exit(storer, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(system_fixture, "storage 5xx and 429 reach the stage as retryable",
                 "[actors][failure]") {
  for (int status : {429, 500, 544}) {
    INFO(status);
    auto fetcher = sys.spawn(supabase_fetch_actor_impl, storage_settings(),
                             engine(reply(status, "busy")));
    auto err = error_of<blob>(fetcher, fetch_atom::value, std::string("in/a.png"), int64_t{100});
    CHECK(has_code(err, worker_errc::retryable));
    CHECK(is_retryable(err));
    caf::anon_send_exit(fetcher, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE_METHOD(system_fixture, "a missing object on the local disk reads the same",
                 "[actors][failure]") {
  auto root = make_temp_dir("quel-failure-test");
  auto fetcher = sys.spawn(fetch_actor_impl,
                           std::make_shared<local_object_store>(root, "images"));
  auto err = error_of<blob>(fetcher, fetch_atom::value, std::string("in/a.png"), int64_t{1 << 20});
  CHECK(has_code(err, worker_errc::object_missing));
  CHECK(reason_of(err) == "object not found: in/a.png");
  caf::anon_send_exit(fetcher, caf::exit_reason::user_shutdown);
  std::filesystem::remove_all(root);
}

TEST_CASE_METHOD(system_fixture, "Gemini replies reach the stage with their retry class",
                 "[actors][failure]") {
  struct row {
    http_response r;
    worker_errc code;
    std::string reason;
    std::optional<std::chrono::milliseconds> hint;
  };
  const std::string rate_limited = R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED",
    "message":"slow down","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo",
    "retryDelay":"7s"}]}})";
  const std::string no_image =
    R"({"candidates":[{"finishReason":"NO_IMAGE","content":{"parts":[]}}]})";
  const std::string safety = R"({"candidates":[{"finishReason":"IMAGE_SAFETY"}]})";
  std::vector<row> rows = {
    {reply(429, rate_limited), worker_errc::retryable, "HTTP 429 RESOURCE_EXHAUSTED: slow down",
     7000ms},
    {reply(200, no_image), worker_errc::retry_once, "NO_IMAGE", std::nullopt},
    {reply(200, safety), worker_errc::permanent, "IMAGE_SAFETY", std::nullopt},
    {reply(400, ""), worker_errc::permanent, "HTTP 400", std::nullopt},
  };
  for (auto& r : rows) {
    INFO(r.reason);
    auto generator = sys.spawn(gemini_generate_actor_impl, gemini_settings{}, engine(r.r));
    generation_request req;
    req.image.job_id = ids::job{"job"};
    auto err = error_of<generated_image>(generator, generate_atom::value, req);
    CHECK(has_code(err, r.code));
    CHECK(reason_of(err) == r.reason);
    CHECK(retry_hint_of(err) == r.hint);
    caf::anon_send_exit(generator, caf::exit_reason::user_shutdown);
  }
}

TEST_CASE("exceptions of the local backends keep their class", "[actors][failure]") {
  auto of = [](auto exception) {
    return failure_from_exception(std::make_exception_ptr(exception));
  };
  CHECK(has_code(of(storage_error("disk hiccup", true)), worker_errc::retryable));
  CHECK(has_code(of(storage_error("bad key", false)), worker_errc::permanent));
  CHECK(has_code(of(generation_error("not an image", false)), worker_errc::permanent));
  auto missing = of(storage_error(object_missing("in/b.png")));
  CHECK(has_code(missing, worker_errc::object_missing));
  CHECK(reason_of(missing) == "object not found: in/b.png");
  auto crash = of(std::runtime_error("boom"));
  CHECK(has_code(crash, worker_errc::retryable));
  CHECK(reason_of(crash) == "boom");
}

TEST_CASE("every retry class survives the trip through the actor error",
          "[actors][failure]") {
  for (auto c : {retry_class::retryable, retry_class::retry_once, retry_class::permanent,
                 retry_class::object_missing}) {
    INFO(to_string(c));
    auto err = to_error(adapter_failure{c, "why", 1500ms});
    CHECK(retry_class_of(err) == c);
    CHECK(reason_of(err) == "why");
    CHECK(retry_hint_of(err) == std::optional<std::chrono::milliseconds>(1500ms));
  }
  CHECK(retry_class_of(make_failure(worker_errc::credits_exhausted, "x"))
        == retry_class::permanent);
  CHECK(retry_class_of(make_failure(worker_errc::lease_lost, "x")) == retry_class::permanent);
  CHECK(retry_class_of(caf::make_error(caf::sec::runtime_error)) == retry_class::retryable);
  CHECK(is_retryable(caf::make_error(caf::sec::runtime_error)));
  CHECK_FALSE(is_retryable(caf::error{}));
}
