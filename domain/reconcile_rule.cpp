#include "domain/reconcile_rule.hpp"

namespace quel {

reconcile_decision decide_reconcile(bool present,
                                    const std::optional<std::string>& job_module,
                                    const module_catalog& known) {
  using kind = reconcile_decision::kind;
  if (present)
    return {kind::leave_present, {}};
  // Pushing a job of an unknown module onto some other module's queue would
  // have that module's worker fail it; a newer worker that knows the module,
  // or an operator, can still finish it where it is.
  if (auto* module = known.for_job(job_module))
    return {kind::push, module->queue};
  return {kind::leave_unknown, {}};
}

} // namespace quel
