#pragma once

#include <string>
#include <vector>

/// Small helpers shared by the benchmarks: medians of repeated runs and a
/// plain-text table, so every bench reports the same way.
namespace quel::bench {

/// The median of `xs` (the mean of the two middle values for an even count);
/// 0 for an empty vector. The median is used because this machine is shared
/// and noisy: one slow run must not move the result.
double median(std::vector<double> xs);

/// The smallest and largest value of `xs` as "min..max" with `digits`
/// decimals; "-" when empty.
std::string spread(const std::vector<double>& xs, int digits = 0);

/// `x` with `digits` decimals.
std::string fixed(double x, int digits = 0);

/// A text table with left-aligned first column and right-aligned others.
class text_table {
public:
  /// Starts a table with these column headers.
  explicit text_table(std::vector<std::string> headers);

  /// Appends one row; missing cells are empty.
  void add(std::vector<std::string> row);

  /// The table as text, one line per row, with a ruler under the headers.
  std::string render() const;

  /// The table as a Markdown table (for bench/README.md).
  std::string markdown() const;

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

/// Seconds since an arbitrary fixed point (steady clock).
double now_seconds();

/// The machine, for the results header: CPU model, core count, kernel and
/// the load average now (other work on a shared machine skews results).
std::string machine_summary();

} // namespace quel::bench
