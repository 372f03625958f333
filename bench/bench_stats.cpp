#include "bench/bench_stats.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace quel::bench {

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

std::string fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::string spread(const std::vector<double>& xs, int digits) {
  if (xs.empty())
    return "-";
  auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  return fixed(*lo, digits) + ".." + fixed(*hi, digits);
}

text_table::text_table(std::vector<std::string> headers) : headers_(std::move(headers)) {
  // nop
}

void text_table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  rows_.push_back(std::move(row));
}

std::string text_table::render() const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) {
    width[c] = headers_[c].size();
    for (const auto& r : rows_)
      width[c] = std::max(width[c], r[c].size());
  }
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) {
      auto pad = std::string(width[c] - cells[c].size(), ' ');
      out << (c == 0 ? "" : "  ") << (c == 0 ? cells[c] + pad : pad + cells[c]);
    }
    out << '\n';
  };
  line(headers_);
  size_t total = 0;
  for (auto w : width)
    total += w + 2;
  out << std::string(total > 2 ? total - 2 : 0, '-') << '\n';
  for (const auto& r : rows_)
    line(r);
  return out.str();
}

std::string text_table::markdown() const {
  std::ostringstream out;
  out << '|';
  for (const auto& h : headers_)
    out << ' ' << h << " |";
  out << "\n|";
  for (size_t c = 0; c < headers_.size(); ++c)
    out << (c == 0 ? "---|" : "---:|");
  out << '\n';
  for (const auto& r : rows_) {
    out << '|';
    for (const auto& cell : r)
      out << ' ' << cell << " |";
    out << '\n';
  }
  return out.str();
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

std::string machine_summary() {
  std::string cpu = "unknown CPU";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos)
        cpu = line.substr(colon + 2);
      break;
    }
  }
  struct utsname u {};
  uname(&u);
  std::string load;
  std::ifstream loadavg("/proc/loadavg");
  std::string a, b, c;
  if (loadavg >> a >> b >> c)
    load = ", load average " + a + " " + b + " " + c;
  return cpu + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores, Linux "
         + u.release + load;
}

} // namespace quel::bench
