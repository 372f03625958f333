#include "common/metrics_registry.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace quel::metrics {

namespace {

/// Label values escape backslash, double quote and newline; HELP text
/// escapes backslash and newline (exposition format 0.0.4).
std::string escape(const std::string& text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quotes)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

} // namespace

std::string format_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v)
      break;
  }
  return buf;
}

std::vector<double> duration_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

family::family(std::string name, std::string help, std::vector<std::string> labels)
  : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {
}

std::string family::label_text(const label_values& values, const std::string& extra) const {
  if (labels_.empty() && extra.empty())
    return {};
  std::string out = "{";
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (i > 0)
      out += ',';
    out += labels_[i] + "=\"" + escape(values[i], true) + '"';
  }
  if (!extra.empty()) {
    if (!labels_.empty())
      out += ',';
    out += extra;
  }
  return out + "}";
}

void family::write_header(std::string& out, const char* type) const {
  out += "# HELP " + name_ + ' ' + escape(help_, false) + '\n';
  out += "# TYPE " + name_ + ' ' + type + '\n';
}

void family::check(const label_values& values) const {
  if (values.size() != labels_.size())
    throw std::invalid_argument("metric " + name_ + " takes " + std::to_string(labels_.size())
                                + " label values, not " + std::to_string(values.size()));
}

void counter::inc(const label_values& values, double by) {
  check(values);
  std::lock_guard<std::mutex> lock{mutex_};
  series_[values] += by;
}

double counter::value(const label_values& values) const {
  std::lock_guard<std::mutex> lock{mutex_};
  auto i = series_.find(values);
  return i == series_.end() ? 0 : i->second;
}

void counter::write(std::string& out) const {
  write_header(out, "counter");
  std::lock_guard<std::mutex> lock{mutex_};
  // An unlabelled counter exists from the start (0), so rate() sees it.
  if (labels_.empty() && series_.empty())
    out += name_ + " 0\n";
  for (auto& [values, v] : series_)
    out += name_ + label_text(values) + ' ' + format_value(v) + '\n';
}

void gauge::set(const label_values& values, double v) {
  check(values);
  std::lock_guard<std::mutex> lock{mutex_};
  series_[values] = v;
}

void gauge::add(const label_values& values, double by) {
  check(values);
  std::lock_guard<std::mutex> lock{mutex_};
  series_[values] += by;
}

double gauge::value(const label_values& values) const {
  std::lock_guard<std::mutex> lock{mutex_};
  auto i = series_.find(values);
  return i == series_.end() ? 0 : i->second;
}

void gauge::write(std::string& out) const {
  write_header(out, "gauge");
  std::lock_guard<std::mutex> lock{mutex_};
  if (labels_.empty() && series_.empty())
    out += name_ + " 0\n";
  for (auto& [values, v] : series_)
    out += name_ + label_text(values) + ' ' + format_value(v) + '\n';
}

histogram::histogram(std::string name, std::string help, std::vector<std::string> labels,
                     std::vector<double> bounds)
  : family(std::move(name), std::move(help), std::move(labels)), bounds_(std::move(bounds)) {
  for (size_t i = 1; i < bounds_.size(); ++i)
    if (!(bounds_[i - 1] < bounds_[i]))
      throw std::invalid_argument("histogram " + name_ + ": bounds must ascend");
}

void histogram::observe(const label_values& values, double v) {
  check(values);
  size_t bucket = 0;
  while (bucket < bounds_.size() && v > bounds_[bucket])
    ++bucket;
  std::lock_guard<std::mutex> lock{mutex_};
  auto& s = series_[values];
  if (s.buckets.empty())
    s.buckets.assign(bounds_.size() + 1, 0);
  s.buckets[bucket]++;
  s.sum += v;
  s.count++;
}

uint64_t histogram::count(const label_values& values) const {
  std::lock_guard<std::mutex> lock{mutex_};
  auto i = series_.find(values);
  return i == series_.end() ? 0 : i->second.count;
}

void histogram::write(std::string& out) const {
  write_header(out, "histogram");
  std::lock_guard<std::mutex> lock{mutex_};
  auto one = [&](const label_values& values, const series& s) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s.buckets.empty() ? 0 : s.buckets[i];
      auto le = i < bounds_.size() ? format_value(bounds_[i]) : std::string{"+Inf"};
      out += name_ + "_bucket" + label_text(values, "le=\"" + le + '"') + ' '
             + std::to_string(cumulative) + '\n';
    }
    out += name_ + "_sum" + label_text(values) + ' ' + format_value(s.sum) + '\n';
    out += name_ + "_count" + label_text(values) + ' ' + std::to_string(s.count) + '\n';
  };
  if (labels_.empty() && series_.empty())
    one({}, series{});
  for (auto& [values, s] : series_)
    one(values, s);
}

callback::callback(std::string name, std::string help, std::vector<std::string> labels,
                   const char* type, sampler sample)
  : family(std::move(name), std::move(help), std::move(labels)), type_(type),
    sample_(std::move(sample)) {
}

void callback::write(std::string& out) const {
  auto samples = sample_();
  write_header(out, type_);
  for (auto& [values, v] : samples) {
    check(values);
    out += name_ + label_text(values) + ' ' + format_value(v) + '\n';
  }
}

template <class T, class... Args>
T& registry::add(Args&&... args) {
  auto owned = std::make_unique<T>(std::forward<Args>(args)...);
  for (auto& f : families_)
    if (f->name() == owned->name())
      throw std::invalid_argument("metric " + owned->name() + " registered twice");
  auto& ref = *owned;
  families_.push_back(std::move(owned));
  return ref;
}

counter& registry::add_counter(std::string name, std::string help,
                               std::vector<std::string> labels) {
  return add<counter>(std::move(name), std::move(help), std::move(labels));
}

gauge& registry::add_gauge(std::string name, std::string help,
                           std::vector<std::string> labels) {
  return add<gauge>(std::move(name), std::move(help), std::move(labels));
}

histogram& registry::add_histogram(std::string name, std::string help,
                                   std::vector<std::string> labels,
                                   std::vector<double> bounds) {
  return add<histogram>(std::move(name), std::move(help), std::move(labels),
                        std::move(bounds));
}

void registry::add_callback(std::string name, std::string help,
                            std::vector<std::string> labels, const char* type,
                            callback::sampler sample) {
  add<callback>(std::move(name), std::move(help), std::move(labels), type, std::move(sample));
}

std::string registry::render() const {
  std::string out;
  for (auto& f : families_)
    f->write(out);
  return out;
}

} // namespace quel::metrics
