// The worker end to end against the Supabase Storage stand-in: missing
// objects, the HTTP-400-with-statusCode errors, retries and both key types.
#include <catch2/catch.hpp>

#include "tests/integration/worker_http_support.hpp"

using namespace quel::test;
using nlohmann::json;

TEST_CASE("a missing input object in Supabase fails the job naming the attach id",
          "[e2e][http][supabase]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  auto& db = fx.h().db();
  db.exec("SELECT setval('quel_attach_attach_id_seq', 48110)");
  auto model = fx.add_input("inputs/model.png", sample_image("png", 0), std::nullopt);
  // The row exists but its object was never uploaded.
  auto ghost = db.create_attach(std::string{"inputs/ghost.png"}, std::nullopt, std::nullopt);
  fx.h().note_input_row();
  auto [job, org] = make_http_job(fx, "needs a ghost", 2, {model, ghost}, 10);
  fx.drain();

  check_http_job(fx, {job, org, 10, 2, 0, {std::to_string(ghost), "missing"}});
  // A missing object is an answer, not a fault: asked once, model never called.
  CHECK(fx.storage_calls("GET", "inputs/ghost.png") == 1);
  CHECK(fx.gemini_calls() == 0);
}

TEST_CASE("Supabase upload and download faults are retried or final as the status says",
          "[e2e][http][supabase]") {
  if (!e2e_services_available())
    return;
  http_backends fx;
  fx.upload("inputs/flaky.png", sample_image("png", 3), "image/png");
  fx.h().note_input_row();
  auto flaky = fx.h().db().create_attach(std::string{"inputs/flaky.png"}, std::nullopt,
                                         std::nullopt);
  auto steady = fx.add_input("inputs/steady.png", sample_image("png", 4), std::nullopt);

  // Jobs are told apart by their prompt (Gemini) and their output key
  // (storage): the rules for uploads match generated/<job id>/.
  auto up500 = make_http_job(fx, "upload 500", 1, {steady});
  auto up544 = make_http_job(fx, "upload 544", 1, {steady});
  auto up413 = make_http_job(fx, "upload 413", 1, {steady});
  auto up415 = make_http_job(fx, "upload 415", 1, {steady});
  auto down429 = make_http_job(fx, "download 429", 1, {flaky});
  auto on = [](const std::pair<std::string, std::string>& job, const std::string& respond,
               std::optional<int> times) {
    json r{{"match", "generated/" + job.first + "/"}, {"method", "POST"},
           {"respond", respond}};
    if (times)
      r["times"] = *times;
    return r;
  };
  fx.script_supabase(json::array({
    on(up500, "server_error", 1),
    on(up544, "db_timeout", 2),
    on(up413, "too_large", std::nullopt),
    on(up415, "mime", std::nullopt),
    json{{"match", "inputs/flaky.png"}, {"method", "GET"}, {"respond", "slow_down"},
         {"times", 2}},
  }));
  fx.drain();

  auto uploads = [&](const std::pair<std::string, std::string>& job) {
    return fx.storage_calls("POST", "generated/" + job.first + "/");
  };
  INFO("500 once on upload, then stored");
  check_http_job(fx, {up500.first, up500.second, 100, 1, 1, {}});
  CHECK(uploads(up500) == 2);
  INFO("544 twice on upload, then stored");
  check_http_job(fx, {up544.first, up544.second, 100, 1, 1, {}});
  CHECK(uploads(up544) == 3);
  INFO("413 on upload: permanent, not charged");
  check_http_job(fx, {up413.first, up413.second, 100, 1, 0, {"413"}});
  CHECK(uploads(up413) == 1);
  INFO("415 on upload: permanent, not charged");
  check_http_job(fx, {up415.first, up415.second, 100, 1, 0, {"415"}});
  CHECK(uploads(up415) == 1);
  INFO("429 twice on download: the stage is restarted, then the job completes");
  check_http_job(fx, {down429.first, down429.second, 100, 1, 1, {}});
  CHECK(fx.storage_calls("GET", "inputs/flaky.png") == 3);
  // A retried upload sends the image the model already made: one model call
  // per job (500, 544 twice, 413, 415, and the restarted stage of 429).
  CHECK(fx.gemini_calls() == 5);
}

TEST_CASE("an sb_secret_ key is sent only as apikey", "[e2e][http][supabase]") {
  if (!e2e_services_available())
    return;
  // The stand-in refuses an sb_secret_ key sent as a Bearer token
  // ("Invalid Compact JWS"), so the job can only complete with apikey alone.
  http_backends fx{standin_options{secret_storage_key, 0}};
  auto input = fx.add_input("inputs/model.png", sample_image("png", 0), std::nullopt);
  auto [job, org] = make_http_job(fx, "secret key", 1, {input}, 3);
  fx.drain();
  check_http_job(fx, {job, org, 3, 1, 1, {}});
  CHECK(fx.storage_calls("POST", "generated/") == 1);
  auto seen = fx.supabase_last();
  INFO("last storage request: " << seen.dump());
  CHECK(seen["method"] == "POST");
  CHECK(seen["apikey"] == true);
  CHECK(seen["bearer"] == false);
  CHECK(seen["x_upsert"] == "true");
  CHECK(seen["content_type"] == "image/webp");
}

TEST_CASE("a legacy JWT key is sent as apikey and as Bearer token", "[e2e][http][supabase]") {
  if (!e2e_services_available())
    return;
  // The stand-in wants Authorization: Bearer <key> next to apikey for any
  // key that is not sb_secret_.
  http_backends fx{standin_options{jwt_storage_key, 0}};
  auto input = fx.add_input("inputs/model.png", sample_image("png", 0), std::nullopt);
  auto [job, org] = make_http_job(fx, "jwt key", 1, {input}, 3);
  auto run = fx.drain();
  check_http_job(fx, {job, org, 3, 1, 1, {}});
  auto seen = fx.supabase_last();
  INFO("last storage request: " << seen.dump());
  CHECK(seen["apikey"] == true);
  CHECK(seen["bearer"] == true);
  CHECK(run.err.find(jwt_storage_key) == std::string::npos);
}

TEST_CASE("the worker refuses to start without the HTTP backends' secrets",
          "[e2e][http][config]") {
  if (!e2e_services_available())
    return;
  worker_harness h;
  auto env = [](std::string missing) {
    env_map e{{"QUEL_STORAGE", "supabase"},
              {"QUEL_SUPABASE_URL", "http://127.0.0.1:9"},
              {"QUEL_SUPABASE_KEY", "sb_secret_x"},
              {"QUEL_GENERATOR", "gemini"},
              {"QUEL_GEMINI_API_KEY", "k"}};
    e[missing] = "";
    return e;
  };
  for (std::string var : {"QUEL_SUPABASE_URL", "QUEL_SUPABASE_KEY", "QUEL_GEMINI_API_KEY"}) {
    auto r = h.run_worker({"run", "--drain"}, env(var), std::chrono::seconds{30});
    INFO(var << " missing; stderr: " << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.err.find(var) != std::string::npos);
  }
}
