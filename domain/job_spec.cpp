#include "domain/job_spec.hpp"

#include <algorithm>
#include <numeric>

namespace quel {

std::vector<int> stage_spec::dependencies() const {
  std::vector<int> result;
  for (auto& in : inputs)
    if (in.from_stage)
      result.push_back(*in.from_stage);
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

int job_spec::total_images() const {
  return std::accumulate(stages.begin(), stages.end(), 0,
                         [](int sum, const stage_spec& s) { return sum + s.quantity; });
}

int job_spec::largest_stage_index() const {
  int largest = -1;
  for (auto& s : stages)
    largest = std::max(largest, s.stage_index);
  return largest;
}

const stage_spec* job_spec::find_stage(int stage_index) const {
  for (auto& s : stages)
    if (s.stage_index == stage_index)
      return &s;
  return nullptr;
}

std::vector<int64_t> job_spec::attach_ids() const {
  std::vector<int64_t> result;
  for (auto& s : stages)
    for (auto& in : s.inputs)
      if (in.attach_id)
        result.push_back(*in.attach_id);
  std::sort(result.begin(), result.end());
  result.erase(std::unique(result.begin(), result.end()), result.end());
  return result;
}

} // namespace quel
