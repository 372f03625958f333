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
#include "app/status_documents.hpp"
#include "common/log_text.hpp"
#include "common/status_format.hpp"
#include "common/utc_time.hpp"
#include "common/uuid.hpp"

namespace quel {

namespace {

namespace fmt = status_format;
using json = nlohmann::json;

// Ids and reasons from outside shown on a terminal: redacted, clipped and
// escaped like log text.
std::string shown(const std::string& text, size_t limit = max_id_chars) {
  return escape_controls(redact_and_clip(text, limit));
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

  // The mesh: each node's view of its peers (docs/DISTRIBUTED.md).
  auto& mesh = doc["mesh"];
  if (!mesh["nodes"].empty()) {
    std::printf("\nmesh nodes: %zu\n", mesh["nodes"].size());
    for (auto& n : mesh["nodes"])
      std::printf("  %-38s %s\n", str(n["node"]).c_str(), str(n["address"]).c_str());
    std::printf("\n%-24s %-24s %-22s %-12s %10s %6s\n", "mesh peer seen by", "peer",
                "address", "state", "last seen", "load");
    for (auto& p : mesh["peers"]) {
      auto& ago = p["last_seen_seconds_ago"];
      std::string seen = ago.is_number() ? fmt::duration(ago.get<double>()) + " ago" : "never";
      std::string load = p["load"].is_number() ? p["load"].dump() : "-";
      std::printf("%-24s %-24s %-22s %-12s %10s %6s\n", str(p["observer"]).c_str(),
                  str(p["node"]).c_str(), str(p["address"]).c_str(), str(p["state"]).c_str(),
                  seen.c_str(), load.c_str());
      if (p["error"].is_string())
        std::printf("  %s\n", str(p["error"]).c_str());
    }
  }

  // Generator nodes, as each worker's router sees them (one line per
  // worker and node: each worker has its own link and its own calls there).
  auto& generators = mesh["generators"];
  if (!generators.empty()) {
    std::printf("\n%-22s %-16s %-16s %-12s %8s %9s %5s %11s\n", "generator node", "node id",
                "seen by", "state", "capacity", "in flight", "load", "last reply");
    auto num = [](const json& v) { return v.is_number() ? v.dump() : std::string{"-"}; };
    for (auto& g : generators) {
      auto& ago = g["last_reply_seconds_ago"];
      std::string seen = ago.is_number() ? fmt::duration(ago.get<double>()) + " ago" : "never";
      std::printf("%-22s %-16s %-16s %-12s %8s %9s %5s %11s\n", str(g["address"]).c_str(),
                  str(g["node"]).c_str(), str(g["observer"]).c_str(), str(g["state"]).c_str(),
                  num(g["capacity"]).c_str(), num(g["in_flight"]).c_str(),
                  num(g["load"]).c_str(), seen.c_str());
      if (g["error"].is_string())
        std::printf("  %s\n", str(g["error"]).c_str());
    }
  }

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
      auto attempts = img.value("attempts", json()).is_number()
                        ? std::to_string(img["attempts"].get<int>())
                        : std::string{"-"};
      std::printf("  image %-3d %-12s attempts %-3s", img["image_index"].get<int>(),
                  outcome.c_str(), attempts.c_str());
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
    redis_queue redis{redis_endpoint::parse(c.redis_url)};
    pg_job_admin db{c.database_url};
    auto doc = fleet_document(c, redis, db);
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
