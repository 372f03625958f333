// The documents `status` and `status JOB_ID` print (as text or JSON) and
// the dashboard's JSON API serves: gathered in one place so both show the
// same thing.
#include "app/status_documents.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <vector>

#include "adapters/postgres/pg_job_admin.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "common/log_text.hpp"
#include "common/status_format.hpp"
#include "common/utc_time.hpp"
#include "common/uuid.hpp"

namespace quel {

namespace {

namespace fmt = status_format;
using json = nlohmann::json;

// Ids, node names and reasons in Redis and PostgreSQL were written by
// producers and other processes: shown on an operator's terminal (or in a
// document a script reads), they are redacted, clipped and escaped like log
// text.
std::string shown(const std::string& text, size_t limit = max_id_chars) {
  return escape_controls(redact_and_clip(text, limit));
}

json opt_json(const std::optional<std::string>& v) {
  return v ? json(shown(*v, max_upstream_chars)) : json(nullptr);
}

/// Stages done / stages in the job: a stage is done when all its images
/// are made (a failed job's stages are reported by `status JOB_ID`).
std::pair<int, int> stage_progress(const job_view& j) {
  auto stages = fmt::stage_quantities(j.job_type, j.input_json);
  std::map<int, int> made;
  for (auto& m : j.made)
    made[m.stage_index]++;
  int done = 0;
  for (auto& [index, quantity] : stages)
    if (made[index] >= quantity)
      ++done;
  return {done, static_cast<int>(stages.size())};
}

/// Generator nodes as each worker's router sees them (quel:mesh:generators:
/// <worker>, rewritten every mesh.retry_interval, expiring after
/// worker.lease_ttl). Not merged: a node that several workers use has one
/// entry per worker, since each worker has its own connection to it, its
/// own calls there and its own idea of its state. Sorted by address, then
/// by worker, so the entries of one node stand together.
json generator_nodes_document(redis_queue& redis) {
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
  auto text = [](const json& v, size_t limit = max_id_chars) {
    return v.is_string() ? json(shown(v.get<std::string>(), limit)) : json(nullptr);
  };
  auto number = [](const json& v) { return v.is_number_integer() ? v : json(nullptr); };
  std::vector<json> out;
  for (auto& [observer, view] : redis.generator_views())
    for (auto& [address, entry] : view) {
      auto e = json::parse(entry, nullptr, false);
      if (!e.is_object())
        continue;
      json g;
      g["observer"] = shown(observer);
      g["address"] = shown(address);
      g["node"] = text(e["node"]);
      g["state"] = text(e["state"]);
      g["error"] = text(e["error"], max_upstream_chars);
      g["capacity"] = number(e["capacity"]);
      g["in_flight"] = number(e["in_flight"]);
      g["load"] = number(e["load"]);
      g["dispatched"] = number(e["dispatched"]);
      g["redispatched"] = number(e["redispatched"]);
      g["last_reply"] = nullptr;
      g["last_reply_seconds_ago"] = nullptr;
      if (e["last_reply_ms"].is_number_integer()) {
        auto ms = e["last_reply_ms"].get<int64_t>();
        g["last_reply"] = utc_iso(std::chrono::system_clock::time_point{
                                    std::chrono::milliseconds{ms}}, true);
        g["last_reply_seconds_ago"] = std::max<int64_t>(0, now_ms - ms) / 1000.0;
      }
      out.push_back(std::move(g));
    }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a["address"].get<std::string>() < b["address"].get<std::string>();
  });
  return json(out);
}

/// The mesh (docs/DISTRIBUTED.md): every advertised node, and each one's
/// view of its peers as it last wrote it to Redis (quel:mesh:view:<node>,
/// rewritten every mesh.retry_interval and expiring with the address).
json mesh_document(redis_queue& redis) {
  json nodes = json::array();
  json peers = json::array();
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto& [node, address] : redis.mesh_nodes()) {
    nodes.push_back({{"node", shown(node)}, {"address", shown(address)}});
    for (auto& [peer, text] : redis.mesh_view(node)) {
      auto e = json::parse(text, nullptr, false);
      if (!e.is_object())
        continue;
      json p;
      p["observer"] = shown(node);
      p["node"] = shown(peer);
      p["address"] = e["address"].is_string() ? json(shown(e["address"].get<std::string>()))
                                              : json(nullptr);
      p["state"] = e["state"].is_string() ? json(shown(e["state"].get<std::string>()))
                                          : json(nullptr);
      p["last_seen"] = nullptr;
      p["last_seen_seconds_ago"] = nullptr;
      if (e["last_seen_ms"].is_number_integer()) {
        auto ms = e["last_seen_ms"].get<int64_t>();
        p["last_seen"] = utc_iso(std::chrono::system_clock::time_point{
                                   std::chrono::milliseconds{ms}}, true);
        p["last_seen_seconds_ago"] = std::max<int64_t>(0, now_ms - ms) / 1000.0;
      }
      p["load"] = e["load"].is_number() ? e["load"] : json(nullptr);
      p["error"] = e["error"].is_string()
                     ? json(shown(e["error"].get<std::string>(), max_upstream_chars))
                     : json(nullptr);
      peers.push_back(p);
    }
  }
  return {{"nodes", nodes}, {"peers", peers}, {"generators", generator_nodes_document(redis)}};
}

} // namespace

json dead_letter_entries(redis_queue& redis, int64_t from, int64_t to) {
  json entries = json::array();
  for (auto& entry : redis.range(redis_keys::dead_letter(), from, to)) {
    auto e = json::parse(entry, nullptr, false);
    if (e.is_object())
      entries.push_back({{"at", shown(e.value("at", ""))},
                         {"id", shown(e.value("id", ""))},
                         {"queue", shown(e.value("queue", ""))},
                         {"reason", shown(e.value("reason", ""), max_upstream_chars)}});
    else
      entries.push_back({{"raw", shown(entry, max_upstream_chars)}});
  }
  return entries;
}

json fleet_document(const worker_config& c, redis_queue& redis, pg_job_admin& db) {
  json doc;
  doc["at"] = utc_now_iso(true);

  auto paused = redis.paused_queues();
  auto is_paused = [&paused](const std::string& q) {
    return std::find(paused.begin(), paused.end(), q) != paused.end();
  };
  // Every module of the modules file: the fleet may serve modules this
  // configuration does not.
  json queues = json::array();
  for (auto& m : c.known_modules.all()) {
    json q;
    q["queue"] = m.queue;
    q["module"] = m.name;
    q["waiting"] = redis.length(m.queue);
    q["paused"] = is_paused(m.queue);
    q["oldest_id"] = nullptr;
    q["oldest_age_seconds"] = nullptr;
    // The id taken next is at the consuming (right) end. Producers only
    // LPUSH an id, so its age is read from its job row (see
    // pg_job_admin::seconds_since_update).
    if (auto oldest = redis.index(m.queue, -1)) {
      q["oldest_id"] = shown(*oldest);
      if (is_uuid(*oldest))
        if (auto age = db.seconds_since_update(*oldest))
          q["oldest_age_seconds"] = *age;
    }
    queues.push_back(q);
  }
  doc["queues"] = queues;

  // Which queue (so which module) each id in flight came from.
  std::map<std::string, std::string> queue_of;
  json nodes = json::array();
  for (auto& node : redis.known_nodes()) {
    int64_t held = 0;
    for (auto& m : c.known_modules.all()) {
      auto list = redis_keys::processing(node, m.queue);
      for (auto& id : redis.range(list)) {
        queue_of[id] = m.queue;
        ++held;
      }
    }
    bool alive = redis.node_alive(node);
    json n;
    n["node"] = shown(node);
    n["alive"] = alive;
    n["processing"] = held;
    n["last_renewal_ms"] = nullptr;
    if (alive)
      if (auto v = redis.node_lease_value(node))
        n["last_renewal_ms"] = std::strtoll(v->c_str(), nullptr, 10);
    nodes.push_back(n);
  }

  json jobs = json::array();
  for (auto& j : db.processing_jobs()) {
    json o;
    std::optional<std::string> module;
    if (auto* m = c.known_modules.for_job(j.module))
      module = m->name;
    if (auto q = queue_of.find(j.job_id); q != queue_of.end()) {
      if (auto* m = c.known_modules.by_queue(q->second))
        module = m->name;
      o["queue"] = q->second;
    } else {
      o["queue"] = nullptr;
    }
    auto [done, stages] = stage_progress(j);
    o["job_id"] = j.job_id;
    o["module"] = opt_json(module);
    o["completed_images"] = j.completed_images;
    o["failed_images"] = j.failed_images;
    o["total_images"] = j.total_images;
    o["stages_done"] = done;
    o["stages_total"] = stages;
    o["running_seconds"] = j.running_seconds ? json(*j.running_seconds) : json(nullptr);
    o["node"] = opt_json(j.owner_node);
    o["lease_live"] = j.lease_live;
    o["cancel_requested"] = redis.cancel_requested(j.job_id);
    jobs.push_back(o);
  }
  doc["jobs_in_flight"] = jobs;
  doc["nodes"] = nodes;
  doc["mesh"] = mesh_document(redis);

  auto dead_key = redis_keys::dead_letter();
  json dead;
  dead["list"] = dead_key;
  dead["count"] = redis.length(dead_key);
  dead["latest"] = dead_letter_entries(redis, 0, 19);
  doc["dead_letters"] = dead;
  return doc;
}


/// One job: its row, lease, stages and images, holds and credit log.
json job_document(const worker_config& c, const job_view& j, bool cancel_requested) {
  json doc;
  doc["job_id"] = j.job_id;
  doc["job_type"] = shown(j.job_type);
  doc["status"] = shown(j.status);
  // job_input_data.module, else fashion (CONTRACT.md section 2 and rule 5).
  auto* module = c.known_modules.for_job(j.module);
  doc["module"] = module ? json(module->name) : opt_json(j.module);
  doc["org_id"] = opt_json(j.org_id);
  doc["production_id"] = opt_json(j.production_id);
  doc["total_images"] = j.total_images;
  doc["completed_images"] = j.completed_images;
  doc["failed_images"] = j.failed_images;
  doc["error_message"] = opt_json(j.error_message);
  doc["created_at"] = j.created_at;
  doc["started_at"] = opt_json(j.started_at);
  doc["completed_at"] = opt_json(j.completed_at);
  doc["updated_at"] = j.updated_at;
  doc["cancel_requested"] = cancel_requested;
  doc["worker"] = {{"node", opt_json(j.owner_node)},
                   {"lease_expires_at", opt_json(j.lease_expires_at)},
                   {"lease_live", j.lease_live},
                   {"epoch", j.epoch},
                   {"claims", j.claims}};

  std::map<std::pair<int, int>, const made_image_row*> made;
  for (auto& m : j.made)
    made[{m.stage_index, m.image_index}] = &m;
  std::map<std::pair<int, int>, const failed_image_row*> given_up;
  for (auto& f : j.failures)
    given_up[{f.stage_index, f.image_index}] = &f;
  std::map<std::pair<int, int>, int64_t> held;
  for (auto& h : j.holds)
    held[{h.stage_index, h.image_index}] = h.amount;
  auto reasons = fmt::image_reasons(j.error_message.value_or(""));
  bool finished = j.status == "completed" || j.status == "failed";

  json stages = json::array();
  for (auto& [index, quantity] : fmt::stage_quantities(j.job_type, j.input_json)) {
    json s;
    s["stage_index"] = index;
    s["quantity"] = quantity;
    json images = json::array();
    for (int i = 0; i < quantity; ++i) {
      json img;
      img["image_index"] = i;
      img["reason"] = nullptr;
      // How many times the worker tried it (docs/OPERATIONS.md, "Attempts"):
      // known once it is made or its job has given it up.
      img["attempts"] = nullptr;
      img["attach_id"] = nullptr;
      img["object_key"] = nullptr;
      if (auto m = made.find({index, i}); m != made.end()) {
        img["outcome"] = "made";
        img["attach_id"] = m->second->attach_id;
        img["object_key"] = shown(m->second->object_key);
        img["made_at"] = m->second->committed_at;
        if (m->second->attempts)
          img["attempts"] = *m->second->attempts;
      } else if (held.count({index, i})) {
        img["outcome"] = "in_progress";  // credits held: the model is being called
        img["credits_held"] = held[{index, i}];
      } else if (finished) {
        img["outcome"] = "failed";
        auto f = given_up.find({index, i});
        auto r = reasons.find({index, i});
        // The finish's own record of the image first; jobs finished before
        // migration 006 (or failed by a claim or a cancel) only have the
        // summary in error_message.
        img["reason"] = f != given_up.end() ? json(shown(f->second->reason, max_upstream_chars))
                        : r != reasons.end() ? json(shown(r->second, max_upstream_chars))
                        : j.error_message    ? json(shown(*j.error_message, max_upstream_chars))
                                             : json(nullptr);
        if (f != given_up.end() && f->second->attempts)
          img["attempts"] = *f->second->attempts;
      } else {
        img["outcome"] = "waiting";
      }
      images.push_back(img);
    }
    s["images"] = images;
    stages.push_back(s);
  }
  doc["stages"] = stages;

  json log = json::array();
  for (auto& r : j.credit_log)
    log.push_back({{"at", r.created_at},
                   {"amount", r.amount},
                   {"balance_after", r.balance_after},
                   {"attach_id", r.attach_id ? json(*r.attach_id) : json(nullptr)},
                   {"reason", shown(r.reason)}});
  doc["credit_log"] = log;
  return doc;
}

} // namespace quel
