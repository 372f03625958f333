// JobSupervisor: stage restarts with backoff, dependencies between stages,
// validation failures, missing rows, the error summary.
#include <catch2/catch.hpp>

#include "actors/job_supervisor.hpp"
#include "actors_fakes.hpp"

using namespace quel;
using namespace quel::test;

namespace {

const char* job_id = "00000000-0000-0000-0000-0000000000aa";

job_ticket ticket() {
  return job_ticket{job_id, "jobs:queue", "fashion", "quel:processing:test-node:jobs:queue"};
}

const char* two_stages = R"({"stages":[
  {"stage_index":0,"prompt":"p0","quantity":2,
   "individualImageAttachIds":[{"attachId":39070.0,"type":"model"}]},
  {"stage_index":1,"prompt":"p1","quantity":1,
   "individualImageAttachIds":[{"fromStage":0,"index":1,"type":"model"}]}]})";

} // namespace

TEST_CASE_METHOD(actor_fixture, "a job runs dependent stages in order and completes",
                 "[actors][supervisor]") {
  s->input_json = two_stages;
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  run_all();
  CHECK(s->generate_calls == 3);
  REQUIRE(s->finishes.size() == 1);
  CHECK(s->finishes[0].completed);
  CHECK_FALSE(s->finishes[0].error_message);
  CHECK(s->finishes[0].ordered_attach_ids.size() == 3);
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].what == job_disposition::action::ack);
  CHECK(s->dispositions[0].job_completed);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a crashed stage is restarted after a backoff",
                 "[actors][supervisor][supervision]") {
  s->input_json = two_stages;
  // A transient read error makes stage 0 quit with a retryable error.
  s->fetch_results = {make_failure(worker_errc::retryable, "storage timeout")};
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  sched.run();
  CHECK(s->fetch_calls == 1);
  CHECK(s->generate_calls == 0);
  CHECK(s->finishes.empty());
  run_all();
  CHECK(ctx->metrics->stage_restarts == 1);
  CHECK(s->fetch_calls == 2);
  REQUIRE(s->finishes.size() == 1);
  CHECK(s->finishes[0].completed);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a stage that keeps crashing is given up and the job fails",
                 "[actors][supervisor][supervision]") {
  s->input_json = two_stages;
  for (int i = 0; i < 10; ++i)
    s->fetch_results.push_back(make_failure(worker_errc::retryable, "storage timeout"));
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  run_all();
  CHECK(s->fetch_calls == 3);   // 1 + 2 restarts
  CHECK(s->generate_calls == 0);
  REQUIRE(s->finishes.size() == 1);
  CHECK_FALSE(s->finishes[0].completed);
  REQUIRE(s->finishes[0].error_message);
  INFO(*s->finishes[0].error_message);
  CHECK_THAT(*s->finishes[0].error_message,
             Catch::StartsWith("3 of 3 images failed: stage 0 image 0: storage timeout"));
  // stage 1 needed stage 0's image 1 and was never attempted
  CHECK_THAT(*s->finishes[0].error_message,
             Catch::Contains("stage 1 image 0: input 0 (stage 0 image 1) was not made"));
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].job_failed);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "invalid input fails the job before anything is generated",
                 "[actors][supervisor]") {
  s->input_json = R"({"stages":[{"stage_index":0,"prompt":"p","quantity":1,
    "individualImageAttachIds":[{"attachId":39070.5,"type":"model"}]}]})";
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  run_all();
  CHECK(s->holds == 0);
  CHECK(s->generate_calls == 0);
  REQUIRE(s->invalid_messages.size() == 1);
  CHECK_THAT(s->invalid_messages[0], Catch::Contains("39070.5"));
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].job_failed);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a missing job row is looked up again, then dead-lettered",
                 "[actors][supervisor]") {
  s->claim_answer = claimed_job::outcome::missing;
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  sched.run();
  CHECK(s->dispositions.empty());  // waiting for the recheck timer
  REQUIRE(sched.trigger_timeouts() == 1);
  sched.run();
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].what == job_disposition::action::dead_letter);
  CHECK(s->dispositions[0].reason == "no job row with this id");
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a finished job's id is dropped without work",
                 "[actors][supervisor]") {
  s->claim_answer = claimed_job::outcome::finished;
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  run_all();
  CHECK(s->generate_calls == 0);
  CHECK(s->finishes.empty());
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].what == job_disposition::action::ack);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a job found processing looks for stored images before generating",
                 "[actors][supervisor]") {
  s->input_json = two_stages;
  s->status_before_claim = "processing";  // handed back at a shutdown
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  run_all();
  CHECK(s->exists_calls == 3);   // one per image: reuse an uploaded object
  CHECK(s->generate_calls == 3); // none was stored here
  REQUIRE(s->finishes.size() == 1);
  CHECK(s->finishes[0].completed);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a fresh job generates without looking for stored images",
                 "[actors][supervisor]") {
  s->input_json = two_stages;
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  run_all();
  CHECK(s->exists_calls == 0);
  CHECK(s->generate_calls == 3);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a job under a live holder's lease drops only a copy the holder has",
                 "[actors][supervisor][leases]") {
  s->claim_answer = claimed_job::outcome::leased_elsewhere;
  s->holder_has_id = true;
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  run_all();
  // The holder's processing lists were looked at, this queue's among them.
  REQUIRE(s->held_queries.size() == 1);
  CHECK_THAT(s->held_queries[0],
             Catch::VectorContains(std::string("quel:processing:other-node:jobs:queue")));
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].what == job_disposition::action::ack);
  CHECK(s->claims == 1);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture,
                 "an id whose lease holder lost it is kept and the job claimed when the lease expires",
                 "[actors][supervisor][leases]") {
  // A crashed incarnation's lease is still live, but its ids were handed
  // back: dropping this id would leave the job unfinished in no list.
  s->input_json = two_stages;
  s->claim_answers = {claimed_job::outcome::leased_elsewhere};
  s->holder_has_id = false;
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  sched.run();
  CHECK(s->claims == 1);
  CHECK(s->held_queries.size() == 1);
  CHECK(s->dispositions.empty());   // the id stays in this node's list
  CHECK(s->generate_calls == 0);
  // The only timer is the claim after the lease can have expired.
  REQUIRE(sched.trigger_timeouts() == 1);
  sched.run();
  CHECK(s->claims == 2);
  run_all();
  REQUIRE(s->finishes.size() == 1);
  CHECK(s->finishes[0].completed);
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].what == job_disposition::action::ack);
  CHECK(s->dispositions[0].job_completed);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a node shutdown hands back an id waiting for another node's lease",
                 "[actors][supervisor][leases]") {
  s->claim_answer = claimed_job::outcome::leased_elsewhere;
  s->holder_has_id = false;
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  sched.run();
  CHECK(s->dispositions.empty());
  caf::anon_send(sup, stop_atom::value);
  sched.run();
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].what == job_disposition::action::requeue);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a failed lease renewal is retried until one succeeds",
                 "[actors][supervisor][leases]") {
  s->input_json = two_stages;
  // No image slot is ever granted, so the job stays in flight and renews.
  caf::anon_send_exit(stage_ctx.image_slots, caf::exit_reason::user_shutdown);
  stage_ctx.image_slots = sys.spawn(slots_actor_impl, 0);
  s->renew_results = {make_failure(worker_errc::retryable, "statement timeout"),
                      make_failure(worker_errc::retryable, "statement timeout")};
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  sched.run();
  for (int round = 0; round < 4; ++round) {
    REQUIRE(sched.trigger_timeouts() >= 1);
    sched.run();
  }
  // Two failures, then the renewals go on: 1 + 2 retries + the next period.
  CHECK(s->renews == 4);
  CHECK(s->renew_results.empty());
  CHECK(s->dispositions.empty());   // the job was never given up
  caf::anon_send_exit(sup, caf::exit_reason::kill);
  sched.run();
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a failed claim is retried with backoff, keeping the id",
                 "[actors][supervisor][leases]") {
  s->input_json = two_stages;
  s->claim_errors = {make_failure(worker_errc::permanent, "database error (SQLSTATE 23505)"),
                     make_failure(worker_errc::retryable, "statement timeout")};
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  sched.run();
  CHECK(s->claims == 1);
  CHECK(s->dispositions.empty());  // the id stays here: not requeued, not dropped
  REQUIRE(sched.trigger_timeouts() == 1);
  sched.run();
  CHECK(s->claims == 2);
  CHECK(s->dispositions.empty());
  run_all();
  CHECK(s->claims == 3);
  REQUIRE(s->finishes.size() == 1);
  CHECK(s->finishes[0].completed);
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].what == job_disposition::action::ack);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a job cancelled before it starts makes nothing",
                 "[actors][supervisor][cancel]") {
  s->input_json = two_stages;
  s->cancelled_jobs.insert(job_id);
  auto queue = sys.spawn(recording_queue, s);
  auto sup = sys.spawn(job_supervisor_impl, ticket(), job_context_ptr{ctx}, queue);
  run_all();
  CHECK(s->fetch_calls == 0);
  CHECK(s->generate_calls == 0);
  REQUIRE(s->finishes.size() == 1);
  CHECK_FALSE(s->finishes[0].completed);
  REQUIRE(s->finishes[0].error_message);
  CHECK_THAT(*s->finishes[0].error_message,
             Catch::StartsWith("cancelled: 3 of 3 images failed: stage 0 image 0: cancelled"));
  REQUIRE(s->dispositions.size() == 1);
  CHECK(s->dispositions[0].what == job_disposition::action::ack);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
}
