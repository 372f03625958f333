#include "common/status_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>

#include <nlohmann/json.hpp>

namespace quel::status_format {

std::string progress_bar(int done, int total, int width) {
  width = std::max(width, 1);
  int filled = 0;
  if (total > 0) {
    done = std::clamp(done, 0, total);
    filled = static_cast<int>(static_cast<long long>(done) * width / total);
  }
  return "[" + std::string(static_cast<size_t>(filled), '#')
         + std::string(static_cast<size_t>(width - filled), '-') + "]";
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    seconds = 0;
  auto s = static_cast<long long>(seconds);
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
  return buf;
}

std::string short_id(const std::string& id, size_t keep) {
  if (id.size() <= keep)
    return id;
  return id.substr(0, keep) + "\xE2\x80\xA6";  // …
}

namespace {

// A stage_index or quantity as the worker accepts it (an integer or a
// float with no fraction); -1 for anything else.
int whole(const nlohmann::json& v) {
  if (v.is_number_integer())
    return v.get<long long>() >= 0 && v.get<long long>() <= 1000000 ? v.get<int>() : -1;
  if (v.is_number_float()) {
    double d = v.get<double>();
    return d >= 0 && d <= 1000000 && std::floor(d) == d ? static_cast<int>(d) : -1;
  }
  return -1;
}

} // namespace

std::vector<std::pair<int, int>> stage_quantities(const std::string& job_type,
                                                  const std::string& input_json) {
  std::vector<std::pair<int, int>> out;
  auto j = nlohmann::json::parse(input_json, nullptr, false);
  if (!j.is_object())
    return out;
  if (job_type == "single_batch") {
    int q = whole(j.value("quantity", nlohmann::json{}));
    if (q >= 0)
      out.emplace_back(0, q);
    return out;
  }
  auto stages = j.find("stages");
  if (stages == j.end() || !stages->is_array())
    return out;
  for (auto& s : *stages) {
    if (!s.is_object())
      return {};
    int index = whole(s.value("stage_index", nlohmann::json{}));
    int q = whole(s.value("quantity", nlohmann::json{}));
    if (index < 0 || q < 0)
      return {};
    out.emplace_back(index, q);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::pair<int, int>, std::string> image_reasons(const std::string& error_message) {
  std::map<std::pair<int, int>, std::string> out;
  static const std::regex part{R"(stage (\d{1,6}) image (\d{1,6}): )"};
  std::vector<std::pair<std::smatch::difference_type, std::smatch>> hits;
  for (auto it = std::sregex_iterator(error_message.begin(), error_message.end(), part);
       it != std::sregex_iterator(); ++it)
    hits.emplace_back(it->position(), *it);
  for (size_t i = 0; i < hits.size(); ++i) {
    auto& m = hits[i].second;
    auto begin = static_cast<size_t>(hits[i].first + m.length());
    auto end = i + 1 < hits.size() ? static_cast<size_t>(hits[i + 1].first) : error_message.size();
    auto reason = error_message.substr(begin, end - begin);
    // Drop the "; " before the next part and a trailing "; and N more".
    auto more = reason.find("; and ");
    if (i + 1 == hits.size() && more != std::string::npos)
      reason.erase(more);
    while (!reason.empty() && (reason.back() == ' ' || reason.back() == ';'))
      reason.pop_back();
    out[{std::stoi(m[1].str()), std::stoi(m[2].str())}] = reason;
  }
  return out;
}

} // namespace quel::status_format
