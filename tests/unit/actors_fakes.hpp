#pragma once

// Deterministic test bed for the actors: CAF's test coordinator (no worker
// threads, timers fired by hand) and scripted fakes of the I/O actors. The
// fakes implement the same typed interfaces as the real ones, so the
// supervisors, stages and image actors under test are the production code.

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/byte_budget_actor.hpp"
#include "actors/slots_actor.hpp"
#include "actors/worker_context.hpp"
#include "messages/errors.hpp"

namespace quel::test {

/// What the fakes were asked, and what they answer next.
struct script {
  // generator: one entry per call; an empty error means success
  std::deque<caf::error> generate_results;
  int generate_calls = 0;
  // fetcher: errors for the next fetch calls (then success)
  std::deque<caf::error> fetch_results;
  int fetch_calls = 0;
  int exists_calls = 0;
  // storer: errors for the next store calls (then success)
  std::deque<caf::error> store_results;
  int store_calls = 0;
  // credits
  hold_outcome hold_answer = hold_outcome::held;
  int holds = 0;       // images asked to hold
  int hold_calls = 0;  // hold requests (one per stage)
  int commits = 0;
  int unholds = 0;             // images whose holds were released
  std::vector<int32_t> released;  // their indices
  int64_t next_attach_id = 1000;
  // job store: claims answer claim_answers first (then claim_answer)
  std::deque<claimed_job::outcome> claim_answers;
  claimed_job::outcome claim_answer = claimed_job::outcome::claimed;
  int claims = 0;
  std::deque<caf::error> claim_errors;             // answered before claim_answers
  std::string lease_owner = "other-node";          // for leased_elsewhere
  std::chrono::milliseconds lease_left{3000};
  // renewals: errors for the next renew calls (then success)
  std::deque<caf::error> renew_results;
  int renews = 0;
  // redis: does the lease owner hold the id in a processing list?
  bool holder_has_id = false;
  std::set<std::string> cancelled_jobs;  // `cancel` answers true for these
  std::vector<std::vector<std::string>> held_queries;
  std::string job_type = "pipeline_stage";
  std::string status_before_claim = "pending";
  std::string input_json;
  std::vector<job_finish> finishes;
  std::vector<std::string> invalid_messages;
  // what supervisors and stages reported upward
  std::vector<made_image> made;
  std::vector<stage_report> stage_reports;
  std::vector<job_disposition> dispositions;
};

using script_ptr = std::shared_ptr<script>;

inline blob tiny_png() {
  static const unsigned char png[] = {
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0};
  return blob{std::string(reinterpret_cast<const char*>(png), sizeof png)};
}

/// The size of the fake generator's image ("RIFF....WEBPfake": later
/// stages take it as a WebP input).
constexpr size_t fake_generated_size = 16;

inline generate_actor::behavior_type fake_generator(script_ptr s) {
  return {
    [s](generate_atom, const generation_request&) -> caf::result<generated_image> {
      s->generate_calls++;
      if (!s->generate_results.empty()) {
        auto err = s->generate_results.front();
        s->generate_results.pop_front();
        if (err)
          return err;
      }
      return generated_image{blob{"RIFF....WEBPfake"}, "image/webp", "fake"};
    },
  };
}

inline fetch_actor::behavior_type fake_fetcher(script_ptr s) {
  return {
    [s](fetch_atom, const std::string&, int64_t) -> caf::result<blob> {
      s->fetch_calls++;
      if (!s->fetch_results.empty()) {
        auto err = s->fetch_results.front();
        s->fetch_results.pop_front();
        if (err)
          return err;
      }
      return tiny_png();
    },
    [s](exists_atom, const std::string&) -> caf::result<bool> {
      s->exists_calls++;
      return false;
    },
  };
}

inline store_actor::behavior_type fake_storer(script_ptr s) {
  return {
    [s](store_atom, const std::string&, const blob& b,
        const std::string&) -> caf::result<int64_t> {
      s->store_calls++;
      if (!s->store_results.empty()) {
        auto err = s->store_results.front();
        s->store_results.pop_front();
        if (err)
          return err;
      }
      return static_cast<int64_t>(b.size());
    },
  };
}

inline image_ledger_actor::behavior_type fake_image_ledger(script_ptr s) {
  return {
    [s](hold_atom, const image_identity&,
        const std::vector<int32_t>& images) -> caf::result<hold_reply> {
      s->hold_calls++;
      s->holds += static_cast<int>(images.size());
      return hold_reply{std::vector<hold_outcome>(images.size(), s->hold_answer)};
    },
    [s](commit_atom, const image_commit&) -> caf::result<commit_result> {
      s->commits++;
      commit_result r;
      r.attach_id = s->next_attach_id++;
      r.completed_images = s->commits;
      r.total_images = 0;
      return r;
    },
    [s](unhold_atom, const image_identity&, const std::vector<int32_t>& images) {
      s->unholds += static_cast<int>(images.size());
      s->released.insert(s->released.end(), images.begin(), images.end());
    },
    [](run_atom) {},
  };
}

inline job_store_actor::behavior_type fake_job_store(script_ptr s) {
  return {
    [s](claim_atom, const ids::job& id) -> caf::result<claimed_job> {
      claimed_job j;
      s->claims++;
      if (!s->claim_errors.empty()) {
        auto err = s->claim_errors.front();
        s->claim_errors.pop_front();
        if (err)
          return err;
      }
      j.result = s->claim_answer;
      if (!s->claim_answers.empty()) {
        j.result = s->claim_answers.front();
        s->claim_answers.pop_front();
      }
      if (j.result == claimed_job::outcome::leased_elsewhere) {
        j.owner_node = s->lease_owner;
        j.lease_left = s->lease_left;
      }
      j.job_id = id;
      j.job_type = s->job_type;
      j.input_json = s->input_json;
      j.org_id = ids::org{"org"};
      j.status = s->status_before_claim;
      j.epoch = 1;
      j.attempts = 1;
      return j;
    },
    [](attach_atom, const std::vector<int64_t>& ids)
      -> caf::result<std::vector<attach_row>> {
      std::vector<attach_row> rows;
      for (auto id : ids)
        rows.push_back(attach_row{id, "in/" + std::to_string(id) + ".png", {}});
      return rows;
    },
    [s](invalid_atom, const ids::job&, int64_t,
        const std::string& message) -> caf::result<bool> {
      s->invalid_messages.push_back(message);
      return true;
    },
    [](start_atom, const ids::job&, int64_t, int32_t) -> caf::result<start_reply> {
      return start_reply{true, {}};
    },
    [s](finish_atom, const job_finish& f) -> caf::result<bool> {
      s->finishes.push_back(f);
      return true;
    },
    [s](renew_atom, const ids::job&, int64_t) -> caf::result<bool> {
      s->renews++;
      if (!s->renew_results.empty()) {
        auto err = s->renew_results.front();
        s->renew_results.pop_front();
        if (err)
          return err;
      }
      return true;
    },
    [](release_atom, const ids::job&, int64_t) -> caf::result<bool> { return true; },
  };
}

/// The node's Redis bookkeeping; only `held` is scripted.
inline redis_ops_actor::behavior_type fake_redis_ops(script_ptr s) {
  return {
    [](ack_atom, const std::string&, const std::string&) { return true; },
    [](requeue_atom, const std::string&, const std::string&, const std::string&) {
      return true;
    },
    [](dead_atom, const dead_letter_entry&) { return true; },
    [](house_atom, const housekeeping_request&) { return housekeeping_report{}; },
    [s](held_atom, const std::vector<std::string>& lists, const std::string&) {
      s->held_queries.push_back(lists);
      return s->holder_has_id;
    },
    [s](cancel_atom, const std::string& id) { return s->cancelled_jobs.count(id) > 0; },
  };
}

/// Stands in for the JobSupervisor above a stage under test.
inline job_supervisor_actor::behavior_type recording_supervisor(script_ptr s) {
  return {
    [s](made_atom, const made_image& m) { s->made.push_back(m); },
    [s](stage_end_atom, const stage_report& r) { s->stage_reports.push_back(r); },
    [](restart_atom, int32_t) {},
    [](recheck_atom) {},
    [](renew_atom) {},
    [](stop_atom) {},
    [](abort_atom) {},
    [](cancel_atom) {},
  };
}

/// Stands in for the QueueActor above a supervisor under test.
inline queue_actor::behavior_type recording_queue(script_ptr s) {
  return {
    [](taken_atom, const job_ticket&) {},
    [s](job_end_atom, const job_disposition& d) { s->dispositions.push_back(d); },
    [](stop_atom) {},
    [](tick_atom) {},
  };
}

struct actor_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  script_ptr s = std::make_shared<script>();
  /// The job context (QueueActor, JobSupervisor) with its stage and image
  /// contexts inside, all backed by the fakes.
  std::shared_ptr<job_context> ctx = std::make_shared<job_context>();
  stage_context& stage_ctx = ctx->stages;
  image_context& image_ctx = ctx->stages.images;
  /// The byte budget of the stages' admissions and the images' replies.
  std::shared_ptr<byte_budget> image_budget = std::make_shared<byte_budget>(int64_t{1} << 30, 0);

  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    return cfg;
  }

  /// The stage context as a StageActor gets it (sharing the job context).
  stage_context_ptr stage_context_of_job() const {
    return inner_context(job_context_ptr{ctx}, &job_context::stages);
  }

  actor_fixture()
    : sys(init(cfg)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    ctx->settings.node_id = "test-node";
    stage_ctx.image_retry = backoff_policy{std::chrono::milliseconds(100),
                                           std::chrono::milliseconds(1000), 3};
    ctx->settings.stage_retry = backoff_policy{std::chrono::milliseconds(100),
                                               std::chrono::milliseconds(1000), 3};
    ctx->modules = module_catalog::from_ini(
      "[module.fashion]\nqueue = jobs:queue\ncredits_per_image = 1\npreamble = P\n");
    ctx->metrics = std::make_shared<worker_metrics>();
    stage_ctx.metrics = ctx->metrics;
    ctx->job_stores = actor_pool<job_store_actor>{{sys.spawn(fake_job_store, s)}};
    image_ctx.ledger = sys.spawn(fake_image_ledger, s);
    image_ctx.fetchers = actor_pool<fetch_actor>{{sys.spawn(fake_fetcher, s)}};
    image_ctx.storers = actor_pool<store_actor>{{sys.spawn(fake_storer, s)}};
    image_ctx.generators = actor_pool<generate_actor>{{sys.spawn(fake_generator, s)}};
    stage_ctx.image_slots = sys.spawn(slots_actor_impl, 4);
    stage_ctx.image_bytes = sys.spawn(byte_budget_actor_impl, image_budget);
    image_ctx.reply_budget = image_budget;
    ctx->redis = sys.spawn(fake_redis_ops, s);
  }

  ~actor_fixture() {
    // Stop every fake so ~actor_system does not wait for them.
    for (auto& a : ctx->job_stores.members())
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(image_ctx.ledger, caf::exit_reason::user_shutdown);
    for (auto& a : image_ctx.fetchers.members())
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& a : image_ctx.storers.members())
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    for (auto& a : image_ctx.generators.members())
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(stage_ctx.image_slots, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(stage_ctx.image_bytes, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(ctx->redis, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Runs until idle, then fires pending timers (backoffs, lease renewals)
  /// until none is left; returns how many rounds of timers fired. Bounded,
  /// so a test of a stuck actor fails instead of spinning.
  int run_all(int max_rounds = 100) {
    sched.run();
    int rounds = 0;
    while (rounds < max_rounds && sched.trigger_timeouts() > 0) {
      ++rounds;
      sched.run();
    }
    return rounds;
  }
};

} // namespace quel::test
