#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

/// A small Prometheus registry: labelled counters, gauges and histograms and
/// their text exposition (format 0.0.4). CAF 0.17 has no telemetry, and the
/// worker needs only these three kinds, so no client library.
///
/// Label values must come from bounded sets (module names, outcome and
/// reason classes, queue names): every distinct combination is a series
/// kept for the life of the process.
namespace quel::metrics {

using label_values = std::vector<std::string>;

/// What all three kinds share: name, help, label names, and a mutex around
/// the series (updates are rare next to the work they count).
class family {
public:
  family(std::string name, std::string help, std::vector<std::string> labels);
  virtual ~family() = default;
  family(const family&) = delete;
  family& operator=(const family&) = delete;

  const std::string& name() const { return name_; }
  /// Appends HELP, TYPE and every series.
  virtual void write(std::string& out) const = 0;

protected:
  /// `{a="x",b="y"}` (escaped), or "" without labels; `extra` is appended
  /// as one more label (histogram buckets' `le`).
  std::string label_text(const label_values& values, const std::string& extra = {}) const;
  void write_header(std::string& out, const char* type) const;
  /// Throws std::invalid_argument when the count differs from the names'.
  void check(const label_values& values) const;

  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  mutable std::mutex mutex_;
};

/// A value that only goes up (`_total` by convention).
class counter final : public family {
public:
  using family::family;
  void inc(const label_values& values = {}, double by = 1);
  double value(const label_values& values = {}) const;
  void write(std::string& out) const override;

private:
  std::map<label_values, double> series_;
};

/// A value that goes up and down, or is set.
class gauge final : public family {
public:
  using family::family;
  void set(const label_values& values, double v);
  void add(const label_values& values, double by);
  double value(const label_values& values = {}) const;
  void write(std::string& out) const override;

private:
  std::map<label_values, double> series_;
};

/// Observations counted into cumulative buckets (upper bounds, ascending;
/// `+Inf` is added), with their sum and count.
class histogram final : public family {
public:
  histogram(std::string name, std::string help, std::vector<std::string> labels,
            std::vector<double> bounds);
  void observe(const label_values& values, double v);
  /// Observations so far (tests).
  uint64_t count(const label_values& values = {}) const;
  void write(std::string& out) const override;

private:
  struct series {
    std::vector<uint64_t> buckets;  // per bound, not cumulative; last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  std::vector<double> bounds_;
  std::map<label_values, series> series_;
};

/// A family whose samples are computed at scrape time (process_*, values
/// read from atomics kept elsewhere): `sample` returns (labels, value)
/// pairs; the type is "gauge" or "counter".
class callback final : public family {
public:
  using sampler = std::function<std::vector<std::pair<label_values, double>>()>;
  callback(std::string name, std::string help, std::vector<std::string> labels,
           const char* type, sampler sample);
  void write(std::string& out) const override;

private:
  const char* type_;
  sampler sample_;
};

/// Owns the families in registration order and renders them all.
class registry {
public:
  counter& add_counter(std::string name, std::string help, std::vector<std::string> labels = {});
  gauge& add_gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  histogram& add_histogram(std::string name, std::string help, std::vector<std::string> labels,
                           std::vector<double> bounds);
  void add_callback(std::string name, std::string help, std::vector<std::string> labels,
                    const char* type, callback::sampler sample);

  /// The text exposition of every family.
  std::string render() const;

private:
  template <class T, class... Args>
  T& add(Args&&... args);

  std::vector<std::unique_ptr<family>> families_;
};

/// A number as Prometheus writes it: integers without a fraction, `+Inf`,
/// `-Inf`, `NaN`, otherwise the shortest round-trip text.
std::string format_value(double v);

/// Bucket bounds for durations in seconds, from 5 ms to 10 min.
std::vector<double> duration_buckets();

} // namespace quel::metrics
