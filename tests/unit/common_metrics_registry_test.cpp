// The Prometheus registry's text exposition (format 0.0.4): labels and
// their escaping, histogram buckets, number formatting.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

#include "common/metrics_registry.hpp"

using namespace quel::metrics;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("labelled counters and gauges render one line per series", "[metrics]") {
  registry r;
  auto& jobs = r.add_counter("quel_jobs_total", "Jobs ended.", {"module", "outcome"});
  auto& depth = r.add_gauge("quel_queue_depth", "Ids waiting.", {"queue"});
  auto& plain = r.add_counter("quel_plain_total", "No labels.");
  jobs.inc({"fashion", "completed"});
  jobs.inc({"fashion", "completed"});
  jobs.inc({"fashion", "failed"}, 0.5);
  depth.set({"jobs:fashion"}, 7);
  depth.add({"jobs:fashion"}, -2);
  auto text = r.render();
  INFO(text);
  CHECK(has_line(text, "# HELP quel_jobs_total Jobs ended."));
  CHECK(has_line(text, "# TYPE quel_jobs_total counter"));
  CHECK(has_line(text, "quel_jobs_total{module=\"fashion\",outcome=\"completed\"} 2"));
  CHECK(has_line(text, "quel_jobs_total{module=\"fashion\",outcome=\"failed\"} 0.5"));
  CHECK(has_line(text, "# TYPE quel_queue_depth gauge"));
  CHECK(has_line(text, "quel_queue_depth{queue=\"jobs:fashion\"} 5"));
  // An unlabelled counter is there from the start, so rate() sees its 0.
  CHECK(has_line(text, "quel_plain_total 0"));
  plain.inc();
  CHECK(has_line(r.render(), "quel_plain_total 1"));
  CHECK(jobs.value({"fashion", "completed"}) == 2);
}

TEST_CASE("label values and help text are escaped", "[metrics]") {
  registry r;
  auto& c = r.add_counter("x_total", "a \\ help\nline", {"l"});
  c.inc({"q\"uote\\back\nnl"});
  auto text = r.render();
  INFO(text);
  CHECK(has_line(text, "# HELP x_total a \\\\ help\\nline"));
  CHECK(has_line(text, "x_total{l=\"q\\\"uote\\\\back\\nnl\"} 1"));
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, sum and count", "[metrics]") {
  registry r;
  auto& h = r.add_histogram("quel_job_duration_seconds", "Job time.", {"module"},
                            {0.1, 1, 10});
  h.observe({"m"}, 0.05);
  h.observe({"m"}, 0.1);   // on the bound: counted in le="0.1"
  h.observe({"m"}, 2);
  h.observe({"m"}, 100);
  auto text = r.render();
  INFO(text);
  CHECK(has_line(text, "# TYPE quel_job_duration_seconds histogram"));
  CHECK(has_line(text, "quel_job_duration_seconds_bucket{module=\"m\",le=\"0.1\"} 2"));
  CHECK(has_line(text, "quel_job_duration_seconds_bucket{module=\"m\",le=\"1\"} 2"));
  CHECK(has_line(text, "quel_job_duration_seconds_bucket{module=\"m\",le=\"10\"} 3"));
  CHECK(has_line(text, "quel_job_duration_seconds_bucket{module=\"m\",le=\"+Inf\"} 4"));
  CHECK(has_line(text, "quel_job_duration_seconds_sum{module=\"m\"} 102.15"));
  CHECK(has_line(text, "quel_job_duration_seconds_count{module=\"m\"} 4"));
  CHECK(h.count({"m"}) == 4);
}

TEST_CASE("an unlabelled histogram shows zero buckets before any observation", "[metrics]") {
  registry r;
  r.add_histogram("h_seconds", "h", {}, {1});
  auto text = r.render();
  CHECK(has_line(text, "h_seconds_bucket{le=\"1\"} 0"));
  CHECK(has_line(text, "h_seconds_bucket{le=\"+Inf\"} 0"));
  CHECK(has_line(text, "h_seconds_count 0"));
}

TEST_CASE("callbacks are sampled at render time", "[metrics]") {
  registry r;
  double v = 1;
  r.add_callback("cb", "c", {"k"}, "gauge", [&v] {
    return std::vector<std::pair<label_values, double>>{{{"a"}, v}};
  });
  CHECK(has_line(r.render(), "cb{k=\"a\"} 1"));
  v = 3;
  CHECK(has_line(r.render(), "cb{k=\"a\"} 3"));
}

TEST_CASE("misuse is refused", "[metrics]") {
  registry r;
  auto& c = r.add_counter("c_total", "c", {"a", "b"});
  CHECK_THROWS_AS(c.inc({"only one"}), std::invalid_argument);
  CHECK_THROWS_AS(r.add_gauge("c_total", "again"), std::invalid_argument);
  CHECK_THROWS_AS(r.add_histogram("h", "h", {}, {1, 1}), std::invalid_argument);
}

TEST_CASE("numbers are written as Prometheus reads them", "[metrics]") {
  CHECK(format_value(0) == "0");
  CHECK(format_value(42) == "42");
  CHECK(format_value(-3) == "-3");
  CHECK(format_value(0.005) == "0.005");
  CHECK(format_value(0.1 + 0.2) == "0.30000000000000004");
  CHECK(format_value(INFINITY) == "+Inf");
  CHECK(format_value(-INFINITY) == "-Inf");
  CHECK(format_value(NAN) == "NaN");
}
