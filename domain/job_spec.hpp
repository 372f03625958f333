#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

/// What a job asks for, after parsing and validating `job_input_data`
/// (CONTRACT.md section 3). Plain data: no JSON, no I/O.
namespace quel {

/// One entry of a stage's `individualImageAttachIds`.
struct input_ref {
  /// Set for an uploaded input image (`attachId`).
  std::optional<int64_t> attach_id;
  /// Set for an image made by another stage of the same job (`fromStage`).
  std::optional<int> from_stage;
  /// Image index within `from_stage` (`index`, default 0).
  int from_index = 0;
  /// Category such as `model`, `top`, `shoes`; the module describes it.
  std::string type;
};

/// One stage of a job: `quantity` images from the same prompt and inputs.
struct stage_spec {
  int stage_index = 0;
  std::string prompt;
  int quantity = 0;
  std::vector<input_ref> inputs;

  /// Stage indexes this stage takes images from, each once, ascending.
  std::vector<int> dependencies() const;
};

/// A validated job: its stages, ascending by stage_index.
struct job_spec {
  std::string job_type;                 // pipeline_stage | single_batch
  std::optional<std::string> module;    // job_input_data.module, if given
  std::vector<stage_spec> stages;       // ascending stage_index
  std::optional<std::string> aspect_ratio;

  /// The sum of the stages' quantities.
  int total_images() const;
  /// The largest stage_index (for `Stage N/M` logs), or -1 without stages.
  int largest_stage_index() const;
  /// The stage with this stage_index, or nullptr.
  const stage_spec* find_stage(int stage_index) const;
  /// Every attachId named by any stage, each once, ascending.
  std::vector<int64_t> attach_ids() const;
};

/// Limits on job input (CONTRACT.md section 3 and rule 10).
struct job_limits {
  int max_stages = 16;
  int max_quantity = 16;
  int max_inputs = 16;
  int max_prompt_chars = 20000;
  int64_t max_input_bytes = 20 * 1024 * 1024;
  /// Size of `job_input_data` itself, checked before it is parsed.
  int64_t max_job_input_bytes = 256 * 1024;
  /// Width x height of any image decoded (a model's reply, an input the
  /// local generator draws), read from the header before decoding: a small
  /// file can claim 16000x16000 and cost gigabytes.
  int64_t max_image_pixels = 50'000'000;
};

} // namespace quel
