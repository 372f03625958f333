#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

/// Pieces of `quel-worker status` text, kept free of I/O so that they are
/// unit-tested (tests/unit/common_status_format_test.cpp).
namespace quel::status_format {

/// `[######----]`: `done` of `total` as `width` cells, rounded down so a bar
/// is full only when everything is done. A total of 0 shows an empty bar;
/// `done` is clamped to 0..total.
std::string progress_bar(int done, int total, int width = 10);

/// A compact duration: `0s`, `12s`, `3m04s`, `2h05m`, `3d04h`. Negative and
/// non-finite values show as `0s` (clocks of two machines may disagree).
std::string duration(double seconds);

/// The first `keep` characters of an id and `…` when it is longer.
std::string short_id(const std::string& id, size_t keep = 8);

/// (stage_index, quantity) of each stage of a job's input, ascending by
/// stage_index: the stages of a pipeline_stage job, stage 0 of a
/// single_batch job. Empty when the input is not understood (status shows
/// what it can; validation is the worker's business).
std::vector<std::pair<int, int>> stage_quantities(const std::string& job_type,
                                                  const std::string& input_json);

/// The per-image reasons an error_message summary names
/// (`... images failed: stage 0 image 1: IMAGE_SAFETY; stage 1 image 0: x`),
/// by (stage, image). Reasons may themselves contain `: `; a `; ` ends one.
std::map<std::pair<int, int>, std::string> image_reasons(const std::string& error_message);

} // namespace quel::status_format
