#include "domain/job_progress.hpp"

namespace quel {

job_progress::job_progress(job_spec spec) : spec_(std::move(spec)) {
}

void job_progress::mark_made(int stage, int image, int64_t attach_id,
                             std::string key) {
  failed_.erase({stage, image});
  made_.emplace(std::make_pair(stage, image),
                made_record{attach_id, std::move(key)});
}

const job_progress::made_record* job_progress::made(int stage, int image) const {
  auto i = made_.find({stage, image});
  return i == made_.end() ? nullptr : &i->second;
}

std::vector<int> job_progress::made_indices(int stage) const {
  std::vector<int> out;
  for (auto& [k, v] : made_)
    if (k.first == stage)
      out.push_back(k.second);
  return out;
}

void job_progress::mark_failed(int stage, int image, std::string reason,
                               std::optional<int> attempts) {
  if (made_.count({stage, image}) == 0)
    failed_.emplace(std::make_pair(stage, image), failed_record{std::move(reason), attempts});
}

std::vector<image_failure> job_progress::failed_images() const {
  std::vector<image_failure> out;
  out.reserve(failed_.size());
  for (auto& [k, f] : failed_)  // made images are erased from failed_
    out.push_back(image_failure{k.first, k.second, f.attempts, f.reason});
  return out;
}

void job_progress::mark_started(int stage) { started_.insert(stage); }
void job_progress::mark_done(int stage) { done_.insert(stage); }
bool job_progress::is_done(int stage) const { return done_.count(stage) > 0; }
bool job_progress::is_started(int stage) const { return started_.count(stage) > 0; }

std::vector<int> job_progress::ready_stages() const {
  std::vector<int> out;
  for (auto& s : spec_.stages) {
    if (is_started(s.stage_index))
      continue;
    bool ready = true;
    for (auto dep : s.dependencies())
      ready = ready && is_done(dep);
    if (ready)
      out.push_back(s.stage_index);
  }
  return out;
}

bool job_progress::all_done() const {
  for (auto& s : spec_.stages)
    if (!is_done(s.stage_index))
      return false;
  return true;
}

std::vector<int64_t> job_progress::ordered_attach_ids() const {
  std::vector<int64_t> out;
  out.reserve(made_.size());
  for (auto& [k, v] : made_) // std::map orders by (stage, image)
    out.push_back(v.attach_id);
  return out;
}

std::optional<std::string> job_progress::error_summary() const {
  auto total_images = total();
  if (made_count() == total_images)
    return std::nullopt;
  std::vector<std::string> parts;
  for (auto& s : spec_.stages)
    for (int i = 0; i < s.quantity; ++i) {
      if (made_.count({s.stage_index, i}) > 0)
        continue;
      auto f = failed_.find({s.stage_index, i});
      parts.push_back("stage " + std::to_string(s.stage_index) + " image "
                      + std::to_string(i) + ": "
                      + (f != failed_.end() ? f->second.reason : std::string{"not made"}));
    }
  // Keep error_message readable for a 256-image job that ran out of credits.
  constexpr size_t shown = 10;
  std::string out = std::to_string(parts.size()) + " of "
                    + std::to_string(total_images) + " images failed: ";
  for (size_t i = 0; i < parts.size() && i < shown; ++i) {
    if (i > 0)
      out += "; ";
    out += parts[i];
  }
  if (parts.size() > shown)
    out += "; and " + std::to_string(parts.size() - shown) + " more";
  return out;
}

} // namespace quel
