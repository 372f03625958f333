// The byte budget of image work in flight: admission in arrival order, a
// request larger than the budget admitted alone instead of never, bytes of
// a dead requester given back; and a stage under it (costs reserved and
// returned, a request over the model's limit refused before any call).
#include <catch2/catch.hpp>

#include "actors/byte_budget_actor.hpp"
#include "actors/stage_actor.hpp"
#include "domain/model_request.hpp"
#include "actors_fakes.hpp"

using namespace quel;
using namespace quel::test;

namespace {

struct grants {
  std::vector<std::pair<std::string, int64_t>> got;  // in the order granted
  int64_t used = -1;                                  // last answer to `get`
};
using grants_ptr = std::shared_ptr<grants>;

/// Stands for a stage: asks the budget on command and records the answers.
caf::behavior requester(caf::event_based_actor* self, byte_budget_actor budget,
                        std::string name, grants_ptr g) {
  return {
    [=](acquire_atom, int64_t n) {
      self->request(budget, caf::infinite, acquire_atom::value, n)
        .then([=](int64_t granted) { g->got.emplace_back(name, granted); });
    },
    [=](release_atom, int64_t n) { self->send(budget, release_atom::value, n); },
    [=](caf::get_atom) {
      self->request(budget, caf::infinite, caf::get_atom::value)
        .then([=](int64_t used) { g->used = used; });
    },
  };
}

std::vector<std::string> names(const grants& g) {
  std::vector<std::string> out;
  for (const auto& [name, bytes] : g.got)
    out.push_back(name);
  return out;
}

stage_plan stage_with_input(int quantity) {
  stage_plan p;
  p.identity.job_id = ids::job{"00000000-0000-0000-0000-000000000002"};
  p.identity.epoch = 1;
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

TEST_CASE_METHOD(actor_fixture, "the byte budget admits in arrival order, big before small",
                 "[actors][budget]") {
  auto budget = sys.spawn(byte_budget_actor_impl, std::make_shared<byte_budget>(100, 0));
  auto g = std::make_shared<grants>();
  auto a = sys.spawn(requester, budget, "a", g);
  auto b = sys.spawn(requester, budget, "b", g);
  auto c = sys.spawn(requester, budget, "c", g);
  caf::anon_send(a, acquire_atom::value, int64_t{60});
  sched.run();
  caf::anon_send(b, acquire_atom::value, int64_t{50});
  sched.run();
  caf::anon_send(c, acquire_atom::value, int64_t{10});
  sched.run();
  INFO("c's 10 bytes would fit, but b asked first and is not overtaken");
  CHECK(names(*g) == std::vector<std::string>{"a"});
  caf::anon_send(a, release_atom::value, int64_t{60});
  sched.run();
  CHECK(names(*g) == std::vector<std::string>{"a", "b", "c"});
  caf::anon_send(a, caf::get_atom::value);
  sched.run();
  CHECK(g->used == 60);
  for (auto& r : {a, b, c})
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  sched.run();
  caf::anon_send_exit(budget, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a request larger than the whole budget runs alone",
                 "[actors][budget]") {
  auto budget = sys.spawn(byte_budget_actor_impl, std::make_shared<byte_budget>(100, 0));
  auto g = std::make_shared<grants>();
  auto a = sys.spawn(requester, budget, "a", g);
  auto big = sys.spawn(requester, budget, "big", g);
  auto c = sys.spawn(requester, budget, "c", g);
  caf::anon_send(a, acquire_atom::value, int64_t{30});
  sched.run();
  caf::anon_send(big, acquire_atom::value, int64_t{500});
  sched.run();
  caf::anon_send(c, acquire_atom::value, int64_t{1});
  sched.run();
  CHECK(names(*g) == std::vector<std::string>{"a"});
  caf::anon_send(a, release_atom::value, int64_t{30});
  sched.run();
  INFO("nothing else is held: the oversized request is admitted, not left waiting forever");
  REQUIRE(names(*g) == std::vector<std::string>{"a", "big"});
  CHECK(g->got[1].second == 500);
  caf::anon_send(big, release_atom::value, int64_t{500});
  sched.run();
  CHECK(names(*g) == std::vector<std::string>{"a", "big", "c"});
  for (auto& r : {a, big, c})
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  sched.run();
  caf::anon_send_exit(budget, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a requester that dies gives its bytes back",
                 "[actors][budget]") {
  auto budget = sys.spawn(byte_budget_actor_impl, std::make_shared<byte_budget>(100, 0));
  auto g = std::make_shared<grants>();
  auto a = sys.spawn(requester, budget, "a", g);
  auto b = sys.spawn(requester, budget, "b", g);
  caf::anon_send(a, acquire_atom::value, int64_t{80});
  sched.run();
  caf::anon_send(a, acquire_atom::value, int64_t{80});  // waits behind itself
  sched.run();
  caf::anon_send(b, acquire_atom::value, int64_t{90});
  sched.run();
  CHECK(names(*g) == std::vector<std::string>{"a"});
  caf::anon_send_exit(a, caf::exit_reason::kill);
  sched.run();
  INFO("a's 80 bytes and its waiting request are gone; b gets its 90");
  CHECK(names(*g) == std::vector<std::string>{"a", "b"});
  caf::anon_send(b, caf::get_atom::value);
  sched.run();
  CHECK(g->used == 90);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  sched.run();
  caf::anon_send_exit(budget, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a release gives back at most what the sender holds",
                 "[actors][budget]") {
  auto budget = sys.spawn(byte_budget_actor_impl, std::make_shared<byte_budget>(100, 0));
  auto g = std::make_shared<grants>();
  auto a = sys.spawn(requester, budget, "a", g);
  auto stranger = sys.spawn(requester, budget, "stranger", g);
  caf::anon_send(a, acquire_atom::value, int64_t{40});
  sched.run();
  caf::anon_send(stranger, release_atom::value, int64_t{40});  // holds nothing
  caf::anon_send(a, release_atom::value, int64_t{1000});       // holds 40
  sched.run();
  caf::anon_send(a, caf::get_atom::value);
  sched.run();
  CHECK(g->used == 0);
  for (auto& r : {a, stranger})
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  sched.run();
  caf::anon_send_exit(budget, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a stage reserves each image's cost and returns all of it",
                 "[actors][budget][stage]") {
  auto sup = sys.spawn(recording_supervisor, s);
  sys.spawn(stage_actor_impl, stage_with_input(3), stage_context_of_job(), sup);
  run_all();
  CHECK(s->generate_calls == 3);
  REQUIRE(s->stage_reports.size() == 1);
  CHECK(s->stage_reports[0].failures.empty());
  auto g = std::make_shared<grants>();
  auto probe = sys.spawn(requester, stage_ctx.image_bytes, "probe", g);
  caf::anon_send(probe, caf::get_atom::value);
  sched.run();
  CHECK(g->used == 0);  // every image's reservation came back
  INFO("each image held its inputs, the request text and its reply at once");
  auto text = gemini_request_size("a prompt", std::nullopt, {0});
  CHECK(image_budget->peak() >= static_cast<int64_t>(tiny_png().size()) + text
                                  + static_cast<int64_t>(fake_generated_size));
  caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "a stage whose images do not fit the budget makes them one by one",
                 "[actors][budget][stage]") {
  // Each image is admitted with its input (a tiny PNG) and the request's
  // JSON text; a budget of one and a half of that holds one image, never
  // two (its reply, 16 bytes, is counted as it arrives).
  auto cost = static_cast<int64_t>(tiny_png().size())
              + gemini_request_size("a prompt", std::nullopt, {0});
  caf::anon_send_exit(stage_ctx.image_bytes, caf::exit_reason::user_shutdown);
  image_budget = std::make_shared<byte_budget>(cost * 3 / 2, 0);
  stage_ctx.image_bytes = sys.spawn(byte_budget_actor_impl, image_budget);
  image_ctx.reply_budget = image_budget;
  stage_ctx.max_input_bytes = cost;  // the cap reserved before the first fetch
  auto sup = sys.spawn(recording_supervisor, s);
  sys.spawn(stage_actor_impl, stage_with_input(3), stage_context_of_job(), sup);
  run_all();
  CHECK(s->generate_calls == 3);
  CHECK(s->commits == 3);
  REQUIRE(s->stage_reports.size() == 1);
  CHECK(s->stage_reports[0].failures.empty());
  INFO("no image of the stage was admitted while the next waited: inputs fetched per image");
  CHECK(s->fetch_calls == 3);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(actor_fixture, "inputs making a request over the model's limit fail at validation",
                 "[actors][budget][stage]") {
  stage_ctx.max_request_bytes = 100;  // the tiny PNG's base64 and the JSON exceed it
  auto sup = sys.spawn(recording_supervisor, s);
  sys.spawn(stage_actor_impl, stage_with_input(2), stage_context_of_job(), sup);
  run_all();
  CHECK(s->generate_calls == 0);
  CHECK(s->holds == 0);
  CHECK(s->commits == 0);
  REQUIRE(s->stage_reports.size() == 1);
  REQUIRE(s->stage_reports[0].failures.size() == 2);
  auto reason = s->stage_reports[0].failures[0].reason;
  CHECK_THAT(reason, Catch::Contains("request too large for the model"));
  CHECK_THAT(reason, Catch::Contains("more than the 100 bytes"));
  auto g = std::make_shared<grants>();
  auto probe = sys.spawn(requester, stage_ctx.image_bytes, "probe", g);
  caf::anon_send(probe, caf::get_atom::value);
  sched.run();
  CHECK(g->used == 0);
  caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
}
