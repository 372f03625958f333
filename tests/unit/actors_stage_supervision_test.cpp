// StageActor supervising ImageActors: restarts with backoff, gives up by
// policy, never retries permanent failures, never generates unpaid images.
#include <catch2/catch.hpp>

#include "actors/stage_actor.hpp"
#include "actors_fakes.hpp"

using namespace quel;
using namespace quel::test;

namespace {

stage_plan one_stage(int quantity) {
  stage_plan p;
  p.identity.job_id = ids::job{"00000000-0000-0000-0000-000000000001"};
  p.identity.epoch = 1;
  p.identity.stage_index = 0;
  p.identity.org_id = ids::org{"org"};
  p.identity.cost = 1;
  p.quantity = quantity;
  p.prompt = "a prompt";
  p.total_images = quantity;
  stage_input in;
  in.category = "model";
  in.attach_id = 39070;
  in.object_key = "in/39070.png";
  p.inputs.push_back(in);
  return p;
}

} // namespace

TEST_CASE_METHOD(actor_fixture, "a stage makes every image and reports them",
                 "[actors][stage]") {
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(3), stage_context_of_job(), sup);
  run_all();
  CHECK(s->fetch_calls == 1);  // inputs are fetched once per stage
  CHECK(s->generate_calls == 3);
  CHECK(s->commits == 3);
  CHECK(s->made.size() == 3);
  REQUIRE(s->stage_reports.size() == 1);
  CHECK(s->stage_reports[0].failures.empty());
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a retryable image failure is restarted after a backoff",
                 "[actors][stage][supervision]") {
  s->generate_results = {make_failure(worker_errc::retryable, "HTTP 503 UNAVAILABLE")};
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(1), stage_context_of_job(), sup);
  sched.run();
  INFO("the first attempt failed; the restart waits for its backoff timer");
  CHECK(s->generate_calls == 1);
  CHECK(s->stage_reports.empty());
  CHECK(s->unholds == 0);  // the hold is kept for the next attempt
  REQUIRE(sched.trigger_timeouts() == 1);
  sched.run();
  CHECK(s->generate_calls == 2);
  CHECK(s->commits == 1);
  CHECK(s->hold_calls == 1);  // the restart did not hold again
  CHECK(s->unholds == 0);     // the commit captured the hold
  REQUIRE(s->stage_reports.size() == 1);
  CHECK(s->stage_reports[0].failures.empty());
  CHECK(ctx->metrics->image_restarts == 1);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "an image is given up after the restart limit",
                 "[actors][stage][supervision]") {
  for (int i = 0; i < 10; ++i)
    s->generate_results.push_back(make_failure(worker_errc::retryable, "HTTP 500 INTERNAL"));
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(1), stage_context_of_job(), sup);
  auto rounds = run_all();
  CHECK(rounds == 2);  // policy: 2 restarts, each after one backoff timer
  CHECK(s->generate_calls == 3);
  CHECK(s->commits == 0);
  REQUIRE(s->stage_reports.size() == 1);
  REQUIRE(s->stage_reports[0].failures.size() == 1);
  CHECK(s->stage_reports[0].failures[0].reason == "HTTP 500 INTERNAL (after 3 attempts)");
  CHECK(s->hold_calls == 1);
  CHECK(s->unholds == 1);  // the given-up image's hold went back
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a permanent failure is not retried",
                 "[actors][stage][supervision]") {
  s->generate_results = {make_failure(worker_errc::permanent, "IMAGE_SAFETY")};
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(2), stage_context_of_job(), sup);
  auto rounds = run_all();
  CHECK(rounds == 0);
  CHECK(s->generate_calls == 2);  // the other image still goes on
  CHECK(s->commits == 1);
  REQUIRE(s->stage_reports.size() == 1);
  REQUIRE(s->stage_reports[0].failures.size() == 1);
  CHECK(s->stage_reports[0].failures[0].reason == "IMAGE_SAFETY");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "an image that cannot be paid for is never generated",
                 "[actors][stage][credits]") {
  s->hold_answer = hold_outcome::insufficient_credits;
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(2), stage_context_of_job(), sup);
  run_all();
  CHECK(s->hold_calls == 1);  // one call for the stage's images
  CHECK(s->holds == 2);
  CHECK(s->unholds == 0);     // nothing was held, nothing to release
  CHECK(s->generate_calls == 0);
  CHECK(s->commits == 0);
  REQUIRE(s->stage_reports.size() == 1);
  REQUIRE(s->stage_reports[0].failures.size() == 2);
  CHECK(s->stage_reports[0].failures[0].reason == "credits ran out");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture,
                 "a stage holds once and releases the holds of its given-up images only",
                 "[actors][stage][credits]") {
  s->generate_results = {make_failure(worker_errc::permanent, "IMAGE_SAFETY")};
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(3), stage_context_of_job(), sup);
  run_all();
  CHECK(s->hold_calls == 1);
  CHECK(s->holds == 3);
  CHECK(s->commits == 2);
  REQUIRE(s->stage_reports.size() == 1);
  REQUIRE(s->stage_reports[0].failures.size() == 1);
  // One release call, for the one unmade image, before the stage reported.
  REQUIRE(s->released.size() == 1);
  CHECK(s->released[0] == s->stage_reports[0].failures[0].image.image_index);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a missing input object fails the stage's images",
                 "[actors][stage]") {
  s->fetch_results = {make_failure(worker_errc::object_missing, "object not found")};
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(2), stage_context_of_job(), sup);
  run_all();
  CHECK(s->generate_calls == 0);
  REQUIRE(s->stage_reports.size() == 1);
  REQUIRE(s->stage_reports[0].failures.size() == 2);
  CHECK_THAT(s->stage_reports[0].failures[0].reason,
             Catch::Contains("attach 39070") && Catch::Contains("missing from storage"));
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "images already made are skipped on a restart",
                 "[actors][stage]") {
  auto plan = one_stage(3);
  plan.already_made = {0, 2};
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, plan, stage_context_of_job(), sup);
  run_all();
  CHECK(s->generate_calls == 1);
  REQUIRE(s->made.size() == 1);
  CHECK(s->made[0].image.image_index == 1);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a reply without an image is tried once more, not more",
                 "[actors][stage][supervision]") {
  int calls = 0;
  SECTION("only replies without an image") {
    for (int i = 0; i < 5; ++i)
      s->generate_results.push_back(make_failure(worker_errc::retry_once, "NO_IMAGE"));
    calls = 2;
  }
  SECTION("after a 5xx (rule 18 retries it once, whatever failed before)") {
    s->generate_results = {make_failure(worker_errc::retryable, "HTTP 503 UNAVAILABLE"),
                           make_failure(worker_errc::retry_once, "NO_IMAGE"),
                           make_failure(worker_errc::retry_once, "NO_IMAGE")};
    calls = 3;
  }
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(1), stage_context_of_job(), sup);
  run_all();
  CHECK(s->generate_calls == calls);
  REQUIRE(s->stage_reports.size() == 1);
  REQUIRE(s->stage_reports[0].failures.size() == 1);
  CHECK(s->stage_reports[0].failures[0].reason
        == "NO_IMAGE (after " + std::to_string(calls) + " attempts)");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a server delay longer than the cap ends the retries",
                 "[actors][stage][supervision]") {
  s->generate_results = {make_failure(worker_errc::retryable, "rate limited",
                                      std::chrono::milliseconds(5000))};
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(1), stage_context_of_job(), sup);
  run_all();
  CHECK(s->generate_calls == 1);  // cap is 1 s in this fixture
  REQUIRE(s->stage_reports.size() == 1);
  REQUIRE(s->stage_reports[0].failures.size() == 1);
  CHECK(s->stage_reports[0].failures[0].reason == "rate limited (after 1 attempts)");
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a failed upload is retried without calling the model again",
                 "[actors][stage][supervision]") {
  s->store_results = {make_failure(worker_errc::retryable, "HTTP 500 InternalError")};
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, one_stage(1), stage_context_of_job(), sup);
  run_all();
  CHECK(s->store_calls == 2);
  CHECK(s->generate_calls == 1);  // the kept image was uploaded on the retry
  CHECK(s->commits == 1);
  REQUIRE(s->stage_reports.size() == 1);
  CHECK(s->stage_reports[0].failures.empty());
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "an upload waits while the job's lease is not known to be held",
                 "[actors][stage][lease]") {
  auto plan = one_stage(1);
  plan.lease = std::make_shared<lease_clock>();  // never renewed: not valid
  auto sup = sys.spawn(recording_supervisor, s);
  auto stage = sys.spawn(stage_actor_impl, plan, stage_context_of_job(), sup);
  sched.run();
  CHECK(s->generate_calls == 1);
  CHECK(s->store_calls == 0);
  REQUIRE(sched.trigger_timeouts() == 1);  // re-checks, still not valid
  sched.run();
  CHECK(s->store_calls == 0);
  plan.lease->extend_from(lease_clock::now_ms(), std::chrono::seconds(60));  // renewed
  REQUIRE(sched.trigger_timeouts() == 1);
  sched.run();
  CHECK(s->store_calls == 1);
  CHECK(s->commits == 1);
  REQUIRE(s->stage_reports.size() == 1);
  CHECK(s->stage_reports[0].failures.empty());
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}
