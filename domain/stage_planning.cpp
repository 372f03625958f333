#include "domain/stage_planning.hpp"

#include "domain/prompt_builder.hpp"

namespace quel {

planned_stage plan_stage(const job_facts& facts, const stage_spec& stage,
                         bool stage_restarted) {
  auto& job = facts.job;
  auto& module = facts.module;
  auto& progress = facts.progress;
  auto& spec = progress.spec();
  planned_stage plan;
  // A job without an organisation is not charged.
  plan.identity = job.image(stage.stage_index, 0, job.org_id ? module.credits_per_image : 0);
  // After a crash or a hand-back at shutdown (of the process or of this
  // stage) an image may already be stored but not committed: its actor then
  // commits it without calling the model again. A job found `processing`
  // was started before, even if a graceful hand-back gave its attempt back.
  plan.resumed = job.attempts > 1 || job.status == "processing" || stage_restarted;
  plan.largest_stage_index = spec.largest_stage_index();
  plan.quantity = stage.quantity;
  plan.prompt = build_prompt(module, stage);
  plan.aspect_ratio = spec.aspect_ratio;
  plan.total_images = spec.total_images();
  plan.already_made = progress.made_indices(stage.stage_index);
  for (size_t n = 0; n < stage.inputs.size(); ++n) {
    auto& ref = stage.inputs[n];
    stage_input in;
    in.category = ref.type;
    in.description = module.describe(ref.type);
    if (ref.attach_id) {
      in.attach_id = ref.attach_id;
      auto key = facts.input_keys.find(*ref.attach_id);
      if (key != facts.input_keys.end())
        in.object_key = key->second;
    } else {
      in.from_stage = ref.from_stage;
      in.from_index = ref.from_index;
      auto* made = progress.made(*ref.from_stage, ref.from_index);
      if (made == nullptr) {
        plan.doomed = "input " + std::to_string(n) + " (stage "
                      + std::to_string(*ref.from_stage) + " image "
                      + std::to_string(ref.from_index) + ") was not made";
        continue;
      }
      in.object_key = made->object_key;
      auto out = facts.outputs.find({*ref.from_stage, ref.from_index});
      if (out != facts.outputs.end())
        in.preloaded = out->second;
    }
    plan.inputs.push_back(std::move(in));
  }
  return plan;
}

} // namespace quel
