// The pieces of `quel-worker status` text: progress bars, durations, ids,
// stage quantities and per-image reasons from an error summary.
#include <catch2/catch.hpp>

#include "common/status_format.hpp"

namespace fmt = quel::status_format;

TEST_CASE("a progress bar fills in proportion and is full only when done", "[status]") {
  CHECK(fmt::progress_bar(6, 10) == "[######----]");
  CHECK(fmt::progress_bar(0, 10) == "[----------]");
  CHECK(fmt::progress_bar(10, 10) == "[##########]");
  // 9 of 10 cells would round up to full: rounded down instead.
  CHECK(fmt::progress_bar(99, 100) == "[#########-]");
  CHECK(fmt::progress_bar(1, 3, 3) == "[#--]");
}

TEST_CASE("a progress bar copes with nothing to do and with counts out of range",
          "[status]") {
  CHECK(fmt::progress_bar(0, 0) == "[----------]");
  CHECK(fmt::progress_bar(5, 0) == "[----------]");
  CHECK(fmt::progress_bar(-3, 10) == "[----------]");
  CHECK(fmt::progress_bar(12, 10) == "[##########]");
  CHECK(fmt::progress_bar(1, 2, 0) == "[-]");
}

TEST_CASE("durations are compact and never negative", "[status]") {
  CHECK(fmt::duration(0) == "0s");
  CHECK(fmt::duration(12.9) == "12s");
  CHECK(fmt::duration(184) == "3m04s");
  CHECK(fmt::duration(7500) == "2h05m");
  CHECK(fmt::duration(3 * 86400 + 4 * 3600 + 59) == "3d04h");
  CHECK(fmt::duration(-5) == "0s");
  CHECK(fmt::duration(std::numeric_limits<double>::quiet_NaN()) == "0s");
}

TEST_CASE("ids are shortened with an ellipsis only when longer", "[status]") {
  CHECK(fmt::short_id("3f2a9c41-0000-4000-8000-000000000000") == "3f2a9c41\xE2\x80\xA6");
  CHECK(fmt::short_id("abc") == "abc");
  CHECK(fmt::short_id("12345678") == "12345678");
}

TEST_CASE("stage quantities come from either job type, sorted by stage_index",
          "[status]") {
  using v = std::vector<std::pair<int, int>>;
  CHECK(fmt::stage_quantities("pipeline_stage",
                              R"({"stages":[{"stage_index":1,"quantity":3},)"
                              R"({"stage_index":0,"quantity":2.0}]})")
        == v{{0, 2}, {1, 3}});
  CHECK(fmt::stage_quantities("single_batch", R"({"prompt":"p","quantity":4})") == v{{0, 4}});
  CHECK(fmt::stage_quantities("pipeline_stage", "not json").empty());
  CHECK(fmt::stage_quantities("pipeline_stage", R"({"stages":[{"stage_index":"x"}]})").empty());
  CHECK(fmt::stage_quantities("single_batch", R"({"quantity":1.5})").empty());
}

TEST_CASE("per-image reasons are read back from an error summary", "[status]") {
  auto r = fmt::image_reasons("3 of 4 images failed: stage 0 image 1: IMAGE_SAFETY; "
                              "stage 1 image 0: input 0 (attach 7): object a: b is missing; "
                              "stage 1 image 1: credits ran out");
  REQUIRE(r.size() == 3);
  CHECK(r[{0, 1}] == "IMAGE_SAFETY");
  CHECK(r[{1, 0}] == "input 0 (attach 7): object a: b is missing");
  CHECK(r[{1, 1}] == "credits ran out");

  auto clipped = fmt::image_reasons("12 of 12 images failed: stage 0 image 0: x; and 11 more");
  CHECK(clipped[{0, 0}] == "x");
  CHECK(fmt::image_reasons("cancelled").empty());
  CHECK(fmt::image_reasons("cancelled: 1 of 2 images failed: stage 0 image 1: cancelled")
          .at({0, 1}) == "cancelled");
}
