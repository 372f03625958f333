// `quel-worker status`: the fleet at a glance, or one job in detail.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "adapters/postgres/pg_job_admin.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "app/ops_commands.hpp"
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

/// Everything `status` shows, gathered once and printed as text or JSON.
json gather(const worker_config& c) {
  redis_queue redis{redis_endpoint::parse(c.redis_url)};
  pg_job_admin db{c.database_url};
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

  auto dead_key = redis_keys::dead_letter();
  json dead;
  dead["list"] = dead_key;
  dead["count"] = redis.length(dead_key);
  json entries = json::array();
  for (auto& entry : redis.range(dead_key, 0, 19)) {
    auto e = json::parse(entry, nullptr, false);
    if (e.is_object())
      entries.push_back({{"at", shown(e.value("at", ""))},
                         {"id", shown(e.value("id", ""))},
                         {"queue", shown(e.value("queue", ""))},
                         {"reason", shown(e.value("reason", ""), max_upstream_chars)}});
    else
      entries.push_back({{"raw", shown(entry, max_upstream_chars)}});
  }
  dead["latest"] = entries;
  doc["dead_letters"] = dead;
  return doc;
}

std::string str(const json& v) {
  return v.is_string() ? v.get<std::string>() : std::string{"-"};
}

void print_text(const json& doc) {
  std::printf("%-30s %-8s %8s %10s\n", "queue", "state", "waiting", "oldest");
  for (auto& q : doc["queues"]) {
    auto& age = q["oldest_age_seconds"];
    std::string oldest = age.is_number() ? fmt::duration(age.get<double>())
                         : q["oldest_id"].is_string() ? "?" : "-";
    std::printf("%-30s %-8s %8lld %10s\n", str(q["queue"]).c_str(),
                q["paused"].get<bool>() ? "paused" : "taking",
                q["waiting"].get<long long>(), oldest.c_str());
  }

  auto& jobs = doc["jobs_in_flight"];
  std::printf("\njobs in flight: %zu\n", jobs.size());
  for (auto& j : jobs) {
    int made = j["completed_images"].get<int>();
    int total = j["total_images"].get<int>();
    auto& secs = j["running_seconds"];
    std::string node = str(j["node"]);
    if (!j["lease_live"].get<bool>())
      node += " (lease expired)";
    if (j["cancel_requested"].get<bool>())
      node += " cancelling";
    std::string failed = j["failed_images"].get<int>() > 0
                           ? " " + std::to_string(j["failed_images"].get<int>()) + " failed"
                           : "";
    std::printf("  %-14s %s %s %d/%d%s stage %d/%d %s %s\n",
                str(j["module"]).c_str(), fmt::short_id(str(j["job_id"])).c_str(),
                fmt::progress_bar(made, total).c_str(), made, total, failed.c_str(),
                j["stages_done"].get<int>(), j["stages_total"].get<int>(),
                secs.is_number() ? fmt::duration(secs.get<double>()).c_str() : "-",
                node.c_str());
  }

  std::printf("\n%-40s %-6s %10s\n", "node", "alive", "processing");
  for (auto& n : doc["nodes"])
    std::printf("%-40s %-6s %10lld\n", str(n["node"]).c_str(),
                n["alive"].get<bool>() ? "yes" : "no", n["processing"].get<long long>());

  auto& dead = doc["dead_letters"];
  std::printf("\ndead letters (%s): %lld\n", str(dead["list"]).c_str(),
              dead["count"].get<long long>());
  for (auto& e : dead["latest"]) {
    if (e.contains("raw"))
      std::printf("  %s\n", str(e["raw"]).c_str());
    else
      std::printf("  %s  %s  %s  %s\n", str(e["at"]).c_str(), str(e["id"]).c_str(),
                  str(e["queue"]).c_str(), str(e["reason"]).c_str());
  }
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
      img["attach_id"] = nullptr;
      img["object_key"] = nullptr;
      if (auto m = made.find({index, i}); m != made.end()) {
        img["outcome"] = "made";
        img["attach_id"] = m->second->attach_id;
        img["object_key"] = shown(m->second->object_key);
        img["made_at"] = m->second->committed_at;
      } else if (held.count({index, i})) {
        img["outcome"] = "in_progress";  // credits held: the model is being called
        img["credits_held"] = held[{index, i}];
      } else if (finished) {
        img["outcome"] = "failed";
        auto r = reasons.find({index, i});
        img["reason"] = r != reasons.end() ? json(shown(r->second, max_upstream_chars))
                        : j.error_message ? json(shown(*j.error_message, max_upstream_chars))
                                          : json(nullptr);
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

void print_job_text(const json& d) {
  auto& w = d["worker"];
  std::printf("job          %s\n", str(d["job_id"]).c_str());
  std::printf("module       %s (%s)\n", str(d["module"]).c_str(), str(d["job_type"]).c_str());
  int made = d["completed_images"].get<int>();
  int total = d["total_images"].get<int>();
  bool finished = d["status"] == "completed" || d["status"] == "failed";
  std::printf("status       %s %s %d/%d made, %d failed%s\n", str(d["status"]).c_str(),
              fmt::progress_bar(made, total).c_str(), made, total,
              d["failed_images"].get<int>(),
              d["cancel_requested"].get<bool>() && !finished ? " (cancel requested)" : "");
  if (d["error_message"].is_string())
    std::printf("error        %s\n", str(d["error_message"]).c_str());
  std::printf("org          %s\nproduction   %s\n", str(d["org_id"]).c_str(),
              str(d["production_id"]).c_str());
  std::printf("created      %s\nstarted      %s\ncompleted    %s\nupdated      %s\n",
              str(d["created_at"]).c_str(), str(d["started_at"]).c_str(),
              str(d["completed_at"]).c_str(), str(d["updated_at"]).c_str());
  std::printf("worker       %s, lease %s %s, epoch %lld, claims %d\n",
              str(w["node"]).c_str(), w["lease_live"].get<bool>() ? "live until" : "expired",
              str(w["lease_expires_at"]).c_str(), w["epoch"].get<long long>(),
              w["claims"].get<int>());
  for (auto& s : d["stages"]) {
    std::printf("\nstage %d (quantity %d)\n", s["stage_index"].get<int>(),
                s["quantity"].get<int>());
    for (auto& img : s["images"]) {
      auto outcome = str(img["outcome"]);
      std::printf("  image %-3d %-12s", img["image_index"].get<int>(), outcome.c_str());
      if (outcome == "made")
        std::printf(" attach %lld  %s\n", img["attach_id"].get<long long>(),
                    str(img["object_key"]).c_str());
      else if (outcome == "in_progress")
        std::printf(" credits held: %lld\n", img["credits_held"].get<long long>());
      else if (outcome == "failed")
        std::printf(" %s\n", str(img["reason"]).c_str());
      else
        std::printf("\n");
    }
  }
  auto& log = d["credit_log"];
  std::printf("\ncredit log: %zu rows\n", log.size());
  for (auto& r : log)
    std::printf("  %s  %+lld  balance %lld  attach %s  %s\n", str(r["at"]).c_str(),
                r["amount"].get<long long>(), r["balance_after"].get<long long>(),
                r["attach_id"].is_number() ? std::to_string(r["attach_id"].get<long long>()).c_str()
                                           : "-",
                str(r["reason"]).c_str());
}

volatile std::sig_atomic_t interrupted = 0;

/// Seconds as given to --interval: a positive decimal, at least 0.1.
double interval_of(const cli_args& args) {
  auto i = args.options.find("interval");
  if (i == args.options.end())
    return 2.0;
  char* end = nullptr;
  double v = std::strtod(i->second.c_str(), &end);
  if (i->second.empty() || *end != '\0' || !(v >= 0.1 && v <= 3600))
    throw std::invalid_argument("--interval must be a number of seconds in 0.1..3600, not \""
                                + shown(i->second) + "\"");
  return v;
}

} // namespace

int status_command(const worker_config& c, const cli_args& args) {
  bool as_json = args.flag("json");
  if (args.positional.size() > 1) {
    std::cerr << "status: give at most one job id\n";
    return 2;
  }
  double interval = 0;
  try {
    interval = interval_of(args);
  } catch (const std::invalid_argument& e) {
    std::cerr << "status: " << e.what() << "\n";
    return 2;
  }
  auto once = [&]() -> int {
    if (!args.positional.empty()) {
      auto& id = args.positional[0];
      pg_job_admin db{c.database_url};
      auto job = is_uuid(id) ? db.job(id) : std::nullopt;
      if (!job) {
        std::cerr << "status: no job " << shown(id) << "\n";
        return 1;
      }
      redis_queue redis{redis_endpoint::parse(c.redis_url)};
      auto doc = job_document(c, *job, redis.cancel_requested(job->job_id));
      if (as_json)
        std::cout << doc.dump(2) << "\n";
      else
        print_job_text(doc);
      return 0;
    }
    auto doc = gather(c);
    if (as_json)
      std::cout << doc.dump(2) << "\n";
    else
      print_text(doc);
    return 0;
  };
  if (!args.flag("watch"))
    return once();
  // --watch: redraw in place (cursor home, clear screen) until Ctrl-C.
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });
  while (!interrupted) {
    std::printf("\x1b[H\x1b[2J");
    std::printf("quel-worker status  every %gs  %s  (Ctrl-C to stop)\n\n", interval,
                utc_now_iso().c_str());
    try {
      once();
    } catch (const std::exception& e) {
      // An outage is shown and the watch goes on.
      std::printf("status unavailable: %s\n", shown(e.what(), max_upstream_chars).c_str());
    }
    std::fflush(stdout);
    for (double waited = 0; waited < interval && !interrupted; waited += 0.1)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

} // namespace quel
