#include "actors/queue_actor.hpp"

#include <algorithm>
#include <cctype>

#include "actors/job_supervisor.hpp"
#include "actors/queue_taker.hpp"
#include "common/log.hpp"
#include "common/utc_time.hpp"
#include "common/uuid.hpp"
#include "messages/errors.hpp"

namespace quel {

namespace {

/// The key of a job in flight: a UUID in lower case, so that one job pushed
/// in two spellings (upper and lower case name the same row) runs once
/// (docs/SECURITY.md section 8, row Q8). Other ids stay as they are.
std::string flight_key(const std::string& id) {
  if (!is_uuid(id))
    return id;
  std::string key = id;
  for (auto& c : key)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

using self_ptr = queue_actor::stateful_pointer<queue_actor_state>;
using action = job_disposition::action;

std::vector<std::string> queue_names(self_ptr self) {
  std::vector<std::string> out;
  for (auto& m : self->state.ctx->modules.all())
    out.push_back(m.queue);
  return out;
}

void maybe_quit(self_ptr self) {
  auto& st = self->state;
  if (st.stopping && st.in_flight.empty() && st.pending_redis == 0) {
    log::info("All jobs settled; stopping");
    self->quit();
  }
}

/// Lends the taker of `queue` a slot for its next id, or queues it.
void lend_slot(self_ptr self, const std::string& queue) {
  auto& st = self->state;
  if (st.stopping)
    return;
  auto i = st.takers.find(queue);
  if (i == st.takers.end())
    return;
  if (st.free_slots == 0) {
    st.takers_waiting.push_back(queue);
    return;
  }
  --st.free_slots;
  self->send(i->second, take_atom::value, int32_t{1});
}

/// A settled id gives its slot back: to a waiting taker first.
void return_slot(self_ptr self) {
  auto& st = self->state;
  ++st.free_slots;
  if (!st.takers_waiting.empty()) {
    auto queue = st.takers_waiting.front();
    st.takers_waiting.pop_front();
    lend_slot(self, queue);
  }
}

void redis_done(self_ptr self, const std::string& id) {
  auto& settling = self->state.settling;
  if (auto i = settling.find(id); i != settling.end())
    settling.erase(i);
  self->state.pending_redis--;
  return_slot(self);
  maybe_quit(self);
}

void settle(self_ptr self, const job_disposition& d) {
  auto& st = self->state;
  auto& t = d.ticket;
  st.pending_redis++;
  st.settling.insert(t.job_id);
  auto on_error = [self, id = t.job_id](caf::error& err) {
    log::error("Redis bookkeeping failed", {{"error", reason_of(err)}});
    redis_done(self, id);
  };
  switch (d.what) {
    case action::ack:
      self->request(st.redis, caf::infinite, ack_atom::value, t.processing, t.job_id)
        .then([self, id = t.job_id](bool) { redis_done(self, id); },
              on_error);
      break;
    case action::requeue:
      self->request(st.redis, caf::infinite, requeue_atom::value, t.processing,
                    t.queue, t.job_id)
        .then([self, id = t.job_id](bool) { redis_done(self, id); },
              on_error);
      break;
    case action::dead_letter: {
      dead_letter_entry entry{t.job_id, t.queue, d.reason, utc_now_iso()};
      st.ctx->metrics->jobs_dead_lettered++;
      self->request(st.redis, caf::infinite, dead_atom::value, entry)
        .then(
          [self, t](bool) {
            // Off the processing list only once the dead letter is written.
            self->request(self->state.redis, caf::infinite, ack_atom::value,
                          t.processing, t.job_id)
              .then([self, id = t.job_id](bool) { redis_done(self, id); },
                    [self, id = t.job_id](caf::error& err) {
                      // The id stays in the processing list; housekeeping
                      // returns it as a stray and it is looked at again.
                      log::job_warn(id, "Could not remove a dead-lettered id from the "
                                        "processing list", {{"error", reason_of(err)}});
                      redis_done(self, id);
                    });
          },
          on_error);
      break;
    }
  }
}

/// The outcome label of a job's end (quel_jobs_total): dropped is an id
/// whose job this node did not finish (lease lost, held or finished
/// elsewhere).
const char* job_outcome(const job_disposition& d) {
  if (d.job_completed)
    return "completed";
  if (d.job_failed)
    return "failed";
  switch (d.what) {
    case action::dead_letter: return "dead_lettered";
    case action::requeue: return "requeued";
    case action::ack: break;
  }
  return "dropped";
}

void return_strays(self_ptr self, const housekeeping_report& report) {
  auto& st = self->state;
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& entry : report.own_ids) {
    auto& [queue, id] = entry;
    if (st.in_flight.count(flight_key(id)) > 0 || st.settling.count(id) > 0)
      continue;
    if (st.strays.count(entry) == 0) {
      seen.insert(entry);
      continue;
    }
    log::job_warn(id, "Id in this node's processing list with no job in flight; "
                      "returning it to its queue", {{"queue", queue}});
    auto processing = redis_keys::processing(st.ctx->settings.node_id, queue);
    // A failed requeue leaves the id where it is, in this node's processing
    // list: the next passes find it there again and retry, so nothing is
    // lost by only logging here.
    self->request(st.redis, caf::infinite, requeue_atom::value, processing, queue, id)
      .then([](bool) {},
            [id](caf::error& err) {
              log::job_warn(id, "Could not return a stray id to its queue; retrying at the "
                                "next housekeeping pass", {{"error", reason_of(err)}});
            });
  }
  st.strays = std::move(seen);
}

void start_takers(self_ptr self) {
  auto& st = self->state;
  auto queues = queue_names(self);
  st.free_slots = st.ctx->settings.max_jobs;
  for (auto& m : st.ctx->modules.all()) {
    job_ticket blank{{}, m.queue, m.name,
                     redis_keys::processing(st.ctx->settings.node_id, m.queue)};
    auto taker = st.spawn_taker(blank, queue_actor{self});
    st.takers.emplace(m.queue, taker);
    lend_slot(self, m.queue);
  }
  st.started = true;
  log::info("Worker started", {{"node", st.ctx->settings.node_id},
                               {"queues", std::to_string(queues.size())}});
}

void housekeeping(self_ptr self, bool reclaim_own) {
  auto& st = self->state;
  if (st.housekeeping_pending)
    return;
  st.housekeeping_pending = true;
  housekeeping_request req{st.ctx->settings.node_id,
                           static_cast<int64_t>(st.ctx->settings.lease_ttl.count()),
                           queue_names(self), reclaim_own};
  self->request(st.redis, caf::infinite, house_atom::value, req)
    .then(
      [self, reclaim_own](const housekeeping_report& report) {
        auto& st = self->state;
        st.housekeeping_pending = false;
        if (reclaim_own && report.reclaimed > 0)
          log::info("Took back ids left by a previous run of this node",
                    {{"ids", std::to_string(report.reclaimed)}});
        if (!st.started && !st.stopping)
          start_takers(self);
        if (!st.stopping)
          return_strays(self, report);
        if (st.ctx->settings.drain && !st.stopping && st.in_flight.empty()
            && report.queued == 0 && report.own_processing == 0
            && report.foreign_processing == 0) {
          log::info("Drained: queues empty and nothing in flight");
          st.stopping = true;
          for (auto& [q, taker] : st.takers)
            self->send_exit(taker, caf::exit_reason::user_shutdown);
          maybe_quit(self);
        }
      },
      [self](caf::error& err) {
        self->state.housekeeping_pending = false;
        log::limited(log::level::warn, "housekeeping", 10000,
                     "Housekeeping failed", {{"error", reason_of(err)}});
      });
}

} // namespace

queue_actor::behavior_type
queue_actor_impl(queue_actor::stateful_pointer<queue_actor_state> self,
                 job_context_ptr ctx, taker_spawner spawn_taker,
                 redis_ops_actor redis) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.spawn_taker = std::move(spawn_taker);
  st.redis = std::move(redis);
  self->set_down_handler([self](caf::down_msg& dm) {
    // A supervisor that died without settling its id (a bug or a crash):
    // put the id back so the job is resumed, never lost.
    auto& st = self->state;
    auto i = st.tickets.find(dm.source);
    if (i == st.tickets.end())
      return;
    auto ticket = i->second.first;
    st.tickets.erase(i);
    if (st.in_flight.erase(flight_key(ticket.job_id)) == 0)
      return;
    st.ctx->metrics->jobs_in_flight--;
    st.ctx->metrics->jobs.inc({ticket.module, "requeued"});
    log::job_error(ticket.job_id, "Job supervisor died; returning the id to its queue",
                   {{"reason", reason_of(dm.reason)}});
    settle(self, job_disposition{ticket, action::requeue, "supervisor died"});
  });
  housekeeping(self, true);
  self->send(self, tick_atom::value);
  return {
    [self](taken_atom, job_ticket& ticket) {
      auto& st = self->state;
      st.ctx->metrics->jobs_taken++;
      // The taker's slot now belongs to this id; the taker needs a new one.
      lend_slot(self, ticket.queue);
      if (st.stopping) {
        settle(self, job_disposition{ticket, action::requeue, "shutting down"});
        return;
      }
      if (st.in_flight.count(flight_key(ticket.job_id)) > 0) {
        log::job_info(ticket.job_id, "Id pushed again while its job is in flight; "
                                     "dropping the copy");
        settle(self, job_disposition{ticket, action::ack, "duplicate"});
        return;
      }
      auto sup = self->spawn<caf::monitored>(job_supervisor_impl, ticket, st.ctx,
                                             queue_actor{self});
      st.in_flight[flight_key(ticket.job_id)] = sup.address();
      st.tickets.emplace(sup.address(), std::make_pair(ticket, sup));
      st.ctx->metrics->jobs_in_flight++;
    },
    [self](job_end_atom, job_disposition& d) {
      auto& st = self->state;
      auto i = st.in_flight.find(flight_key(d.ticket.job_id));
      if (i != st.in_flight.end()) {
        st.tickets.erase(i->second);
        st.in_flight.erase(i);
        st.ctx->metrics->jobs_in_flight--;
      }
      if (d.job_completed)
        st.ctx->metrics->jobs_completed++;
      if (d.job_failed)
        st.ctx->metrics->jobs_failed++;
      st.ctx->metrics->jobs.inc({d.ticket.module, job_outcome(d)});
      settle(self, d);
    },
    [self](stop_atom) {
      auto& st = self->state;
      if (st.stopping)
        return;
      log::info("Shutting down: no new ids; finishing jobs in flight",
                {{"jobs", std::to_string(st.in_flight.size())}});
      st.stopping = true;
      st.deadline = std::chrono::steady_clock::now() + st.ctx->settings.shutdown_deadline;
      for (auto& [q, taker] : st.takers)
        self->send_exit(taker, caf::exit_reason::user_shutdown);
      // Jobs not claimed yet hand their ids back now (see job_supervisor).
      for (auto& [addr, entry] : st.tickets)
        self->send(entry.second, stop_atom::value);
      maybe_quit(self);
    },
    [self](tick_atom) {
      auto& st = self->state;
      if (st.stopping && !st.aborted && std::chrono::steady_clock::now() >= st.deadline) {
        st.aborted = true;
        log::warn("Shutdown deadline passed; returning unfinished jobs to their queues",
                  {{"jobs", std::to_string(st.in_flight.size())}});
        for (auto& [addr, entry] : st.tickets)
          self->send(entry.second, abort_atom::value);
      }
      if (!st.stopping)
        housekeeping(self, false);
      auto interval = st.stopping ? std::chrono::milliseconds(100)
                                  : std::min(st.ctx->settings.housekeeping_interval,
                                             st.ctx->settings.lease_ttl / 3);
      self->delayed_send(self, interval, tick_atom::value);
    },
  };
}

} // namespace quel
