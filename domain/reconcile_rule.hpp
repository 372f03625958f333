#pragma once

#include <optional>
#include <string>

#include "domain/module_catalog.hpp"

/// What the reconciler does with one unfinished job that is old enough to
/// have been pushed (actors/reconciler_actor.cpp): pure, so the rule is
/// tested without Redis or PostgreSQL.
namespace quel {

struct reconcile_decision {
  enum class kind {
    leave_present,   // its id is in a queue or a processing list: nothing to do
    push,            // its id is nowhere: push it onto `queue`
    leave_unknown,   // it names a module that is not configured: never guess
  };
  kind what = kind::leave_present;
  std::string queue;   // push: the queue of the job's module
};

/// `present`: the id is in some module's queue or in some node's processing
/// list for it. `job_module`: its `job_input_data.module` (nullopt: none).
/// `known`: every module of the modules file, served by this worker or not —
/// a job of a module this worker does not serve goes back onto its own
/// module's queue, for a worker that serves it (CONTRACT.md section 2).
reconcile_decision decide_reconcile(bool present,
                                    const std::optional<std::string>& job_module,
                                    const module_catalog& known);

} // namespace quel
