#include "app/dashboard_backend.hpp"

#include <algorithm>
#include <map>
#include <variant>

#include <vips/vips8>

#include "adapters/generator/strict_image.hpp"
#include "adapters/generator/vips_runtime.hpp"
#include "adapters/postgres/pg_job_admin.hpp"
#include "adapters/redis/redis_queue.hpp"
#include "adapters/storage/object_store.hpp"
#include "app/job_actions.hpp"
#include "app/status_documents.hpp"
#include "common/log_text.hpp"
#include "common/status_format.hpp"
#include "domain/job_parser.hpp"

namespace quel {

namespace {

using json = nlohmann::json;

// The API threads wait on a server at most this long per call.
constexpr int statement_timeout_ms = 3000;

redis_timeouts api_redis_timeouts() {
  redis_timeouts t;
  t.connect = std::chrono::milliseconds(1000);
  t.io = std::chrono::milliseconds(3000);
  return t;
}

std::string shown(const std::string& text, size_t limit = max_id_chars) {
  return escape_controls(redact_and_clip(text, limit));
}

json opt(const std::optional<std::string>& v) {
  return v ? json(shown(*v, max_upstream_chars)) : json(nullptr);
}

} // namespace

std::optional<std::string> thumbnail_cache::find(const std::string& key) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto it = index_.find(key);
  if (it == index_.end())
    return std::nullopt;
  order_.splice(order_.begin(), order_, it->second);
  return it->second->second;
}

void thumbnail_cache::put(const std::string& key, std::string bytes) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (index_.count(key) || bytes.size() > max_bytes_)
    return;
  bytes_ += bytes.size();
  order_.emplace_front(key, std::move(bytes));
  index_[key] = order_.begin();
  while (bytes_ > max_bytes_) {
    bytes_ -= order_.back().second.size();
    index_.erase(order_.back().first);
    order_.pop_back();
  }
}

std::string image_type_of(const std::string& b) {
  if (b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0)
    return "image/png";
  if (b.size() >= 3 && b.compare(0, 3, "\xff\xd8\xff") == 0)
    return "image/jpeg";
  if (b.size() >= 12 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0)
    return "image/webp";
  return "";
}

std::string make_thumbnail(const std::string& bytes, int edge, int64_t max_pixels) {
  // The header is read and its size capped before any pixel is decoded.
  auto image = open_image_strictly(bytes, max_pixels);
  try {
    auto small = image.thumbnail_image(edge, vips::VImage::option()->set("height", edge));
    void* out = nullptr;
    size_t size = 0;
    small.write_to_buffer(".webp", &out, &size,
                          vips::VImage::option()->set("Q", 80)->set("strip", true));
    std::string result(static_cast<const char*>(out), size);
    g_free(out);
    return result;
  } catch (const vips::VError& e) {
    throw image_refused(take_vips_error(e));
  }
}

live_dashboard_backend::live_dashboard_backend(std::shared_ptr<dashboard_shared> shared)
  : shared_(std::move(shared)),
    redis_(std::make_unique<redis_queue>(redis_endpoint::parse(shared_->config.redis_url),
                                         api_redis_timeouts())),
    db_(std::make_unique<pg_job_admin>(shared_->config.database_url, statement_timeout_ms)) {
  // nop
}

live_dashboard_backend::~live_dashboard_backend() = default;

json live_dashboard_backend::overview() {
  db_->apply_statement_timeout();
  auto doc = fleet_document(shared_->config, *redis_, *db_);
  json chart = json::array();
  for (auto& m : db_->throughput(30))
    chart.push_back({{"minute", m.minute}, {"images", m.images}, {"jobs", m.jobs}});
  // The last 60 seconds, fleet-wide (from the database, not this node).
  auto last = db_->last_minute();
  json rate = {{"images_per_minute", last.images}, {"jobs_per_minute", last.jobs}};
  doc["throughput"] = chart;
  doc["rate"] = rate;
  json failures = json::array();
  for (auto& f : db_->failure_reasons(24, 10))
    failures.push_back({{"reason", shown(f.reason, max_upstream_chars)}, {"jobs", f.jobs}});
  doc["failures_24h"] = failures;
  return doc;
}

json live_dashboard_backend::jobs(int limit, int offset, const std::optional<std::string>& status) {
  db_->apply_statement_timeout();
  auto page = db_->recent_jobs(limit, offset, status);
  json list = json::array();
  for (auto& j : page.jobs) {
    std::map<int, int> made;
    for (auto& m : j.made)
      made[m.stage_index]++;
    json stages = json::array();
    for (auto& [index, quantity] : status_format::stage_quantities(j.job_type, j.input_json))
      stages.push_back({{"stage_index", index}, {"quantity", quantity}, {"made", made[index]}});
    auto* module = shared_->config.known_modules.for_job(j.module);
    list.push_back({{"job_id", j.job_id},
                    {"module", module ? json(module->name) : opt(j.module)},
                    {"status", shown(j.status)},
                    {"total_images", j.total_images},
                    {"completed_images", j.completed_images},
                    {"failed_images", j.failed_images},
                    {"stages", stages},
                    {"credits", j.credit_sum},
                    {"created_at", j.created_at},
                    {"started_at", opt(j.started_at)},
                    {"completed_at", opt(j.completed_at)},
                    {"running_seconds", j.running_seconds ? json(*j.running_seconds) : json(nullptr)},
                    {"node", opt(j.owner_node)},
                    {"error_message", opt(j.error_message)}});
  }
  return {{"total", page.total}, {"limit", limit}, {"offset", offset}, {"jobs", list}};
}

std::optional<json> live_dashboard_backend::job(const std::string& job_id) {
  db_->apply_statement_timeout();
  auto j = db_->job(job_id);
  if (!j)
    return std::nullopt;
  auto doc = job_document(shared_->config, *j, redis_->cancel_requested(j->job_id));
  // Each stage's inputs: uploaded images (attach ids) or images of an
  // earlier stage, as the job's input names them (nothing when it does not
  // parse: the worker failed it as invalid).
  auto& c = shared_->config;
  auto* module = c.known_modules.for_job(j->module);
  if (module != nullptr) {
    auto parsed = parse_job_input(j->job_type, j->input_json, c.known_modules, module->name,
                                  c.settings.limits);
    if (auto* spec = std::get_if<job_spec>(&parsed))
      for (auto& s : doc["stages"]) {
        json inputs = json::array();
        if (auto* stage = spec->find_stage(s["stage_index"].get<int>()))
          for (auto& in : stage->inputs) {
            json i = {{"type", shown(in.type)}};
            if (in.attach_id)
              i["attach_id"] = *in.attach_id;
            if (in.from_stage) {
              i["from_stage"] = *in.from_stage;
              i["from_index"] = in.from_index;
            }
            inputs.push_back(i);
          }
        s["inputs"] = inputs;
      }
  }
  doc["images_available"] = shared_->store != nullptr;
  return doc;
}

json live_dashboard_backend::dead_letters(int limit, int offset) {
  auto key = redis_keys::dead_letter();
  auto entries = dead_letter_entries(*redis_, offset, offset + limit - 1);
  return {{"total", redis_->length(key)}, {"limit", limit}, {"offset", offset},
          {"entries", entries}};
}

std::optional<image_reply> live_dashboard_backend::image(const image_request& r) {
  if (!shared_->store)
    return std::nullopt;
  db_->apply_statement_timeout();
  auto j = db_->job(r.job_id);
  if (!j)
    return std::nullopt;
  // The key comes from the database only: a committed output of this job,
  // or an input this job names.
  std::optional<std::string> key;
  if (r.stage && r.image) {
    for (auto& m : j->made)
      if (m.stage_index == *r.stage && m.image_index == *r.image)
        key = m.object_key;
  } else if (r.attach_id) {
    auto& c = shared_->config;
    auto* module = c.known_modules.for_job(j->module);
    if (module == nullptr)
      return std::nullopt;
    auto parsed = parse_job_input(j->job_type, j->input_json, c.known_modules, module->name,
                                  c.settings.limits);
    auto* spec = std::get_if<job_spec>(&parsed);
    if (spec == nullptr)
      return std::nullopt;
    auto ids = spec->attach_ids();
    if (std::find(ids.begin(), ids.end(), *r.attach_id) == ids.end())
      return std::nullopt;
    key = db_->attach_key(*r.attach_id);
  }
  if (!key)
    return std::nullopt;
  std::string cache_key = *key + (r.thumbnail ? "#thumb" : "");
  if (r.thumbnail)
    if (auto hit = shared_->thumbnails.find(cache_key))
      return image_reply{"image/webp", std::move(*hit)};
  // object_store::get refuses a malformed key (rule 13) before any I/O.
  auto b = shared_->store->get(*key, shared_->config.settings.limits.max_input_bytes);
  if (!b)
    return std::nullopt;
  std::string bytes = b->bytes();
  auto type = image_type_of(bytes);
  if (type.empty())
    return std::nullopt;
  if (!r.thumbnail)
    return image_reply{type, std::move(bytes)};
  auto thumb = make_thumbnail(bytes, 320, shared_->config.settings.limits.max_image_pixels);
  shared_->thumbnails.put(cache_key, thumb);
  return image_reply{"image/webp", std::move(thumb)};
}

json live_dashboard_backend::act(const std::string& what, const std::string& target) {
  db_->apply_statement_timeout();
  std::vector<action_outcome> results;
  auto& c = shared_->config;
  if (what == "requeue")
    results = requeue_dead_letters(*redis_, false, {target});
  else if (what == "retry")
    results.push_back(retry_job(c, *db_, *redis_, target));
  else if (what == "cancel")
    results.push_back(cancel_job(*db_, *redis_, target));
  else
    results.push_back(set_queue_paused(c, *redis_, target, what == "pause"));
  if (results.empty())
    return {{"ok", false}, {"outcome", "missing"}, {"message", "no dead letter " + target}};
  json messages = json::array();
  for (auto& r : results)
    messages.push_back(r.message);
  return {{"ok", results.front().ok}, {"outcome", results.front().outcome},
          {"message", messages.size() == 1 ? messages[0] : json(messages)}};
}

} // namespace quel
