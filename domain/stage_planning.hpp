#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/blob.hpp"
#include "domain/image_identity.hpp"
#include "domain/job_progress.hpp"
#include "domain/job_records.hpp"
#include "domain/module_catalog.hpp"

/// Planning one stage of a job: what its images are made from. Plain values
/// and a pure function, so the rules (which inputs, which images are already
/// made, when a stage cannot succeed at all) are unit-tested without actors;
/// the JobSupervisor wraps the result in its stage_plan message.
namespace quel {

/// One input of a stage, resolved from the job's spec.
struct stage_input {
  std::string category;        // model, top, ...
  std::string description;     // the module's description of the category
  std::optional<int64_t> attach_id;
  std::string object_key;      // where the bytes are in storage
  std::optional<int> from_stage;
  int from_index = 0;
  blob preloaded;              // bytes already in memory (a stage's output)
};

/// Everything about a stage's images that follows from the job.
struct planned_stage {
  /// What every image of the stage shares: job, epoch, stage, organisation,
  /// cost. Image `i` is `identity.with_image(i)`.
  image_identity identity;
  bool resumed = false;        // the job was claimed before (crash recovery)
  int largest_stage_index = 0;
  int quantity = 0;
  std::string prompt;          // full text part for the model
  std::optional<std::string> aspect_ratio;
  std::vector<stage_input> inputs;
  int total_images = 0;
  /// Image indexes already committed (skipped on resume or stage restart).
  std::vector<int> already_made;
  /// When set, every image of the stage fails at once with this reason
  /// (e.g. a fromStage input that was never made).
  std::optional<std::string> doomed;
};

/// What a job's supervisor knows when it plans a stage.
struct job_facts {
  const claimed_job& job;                                  // the claimed row
  const module_config& module;                             // the job's module
  const job_progress& progress;                            // spec + images made
  const std::map<int64_t, std::string>& input_keys;        // attach id -> key
  const std::map<std::pair<int, int>, blob>& outputs;      // made images' bytes
};

/// Plans `stage` of the job. `stage_restarted`: this stage ran before in
/// this claim (its StageActor crashed and is restarted).
planned_stage plan_stage(const job_facts& facts, const stage_spec& stage,
                         bool stage_restarted);

} // namespace quel
