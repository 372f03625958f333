// Where the reconciler puts an unfinished job whose id is in no list
// (domain/reconcile_rule.hpp, CONTRACT.md section 2 and rule 5): its own
// module's queue, served by this worker or not; fashion's when the job names
// no module; nowhere when it names a module that is not configured.
#include <catch2/catch.hpp>

#include "domain/reconcile_rule.hpp"

using namespace quel;
using kind = reconcile_decision::kind;

namespace {

/// The six contract modules with their default queues, as a worker started
/// with --worker.modules=fashion still knows them.
module_catalog six_modules() {
  return module_catalog::from_ini("[module.fashion]\n[module.beauty]\n[module.cinema]\n"
                                  "[module.cartoon]\n[module.eats]\n"
                                  "[module.generate-image]\n");
}

} // namespace

TEST_CASE("a job of a module this worker does not serve goes to its own queue",
          "[reconcile]") {
  auto known = six_modules();
  auto d = decide_reconcile(false, std::string{"beauty"}, known);
  CHECK(d.what == kind::push);
  CHECK(d.queue == "jobs:queue:beauty");
  CHECK(decide_reconcile(false, std::string{"generate-image"}, known).queue
        == "jobs:queue:generate-image");
  CHECK(decide_reconcile(false, std::string{"fashion"}, known).queue == "jobs:queue");
}

TEST_CASE("a job naming no module goes to fashion's queue", "[reconcile]") {
  auto d = decide_reconcile(false, std::nullopt, six_modules());
  CHECK(d.what == kind::push);
  CHECK(d.queue == "jobs:queue");
}

TEST_CASE("a job naming an unknown module is never rewritten to another module",
          "[reconcile]") {
  auto known = six_modules();
  for (std::string name : {"Beauty", "nope", "", "jobs:queue", "5"}) {
    auto d = decide_reconcile(false, name, known);
    INFO(name);
    CHECK(d.what == kind::leave_unknown);
    CHECK(d.queue.empty());
  }
}

TEST_CASE("an id already in Redis is left alone whatever its module", "[reconcile]") {
  auto known = six_modules();
  CHECK(decide_reconcile(true, std::string{"beauty"}, known).what == kind::leave_present);
  CHECK(decide_reconcile(true, std::nullopt, known).what == kind::leave_present);
  CHECK(decide_reconcile(true, std::string{"nope"}, known).what == kind::leave_present);
}

TEST_CASE("a custom queue of the modules file is used, not the default name",
          "[reconcile]") {
  auto known = module_catalog::from_ini("[module.fashion]\nqueue = q:f\n"
                                        "[module.beauty]\nqueue = q:b\n");
  CHECK(decide_reconcile(false, std::string{"beauty"}, known).queue == "q:b");
  CHECK(decide_reconcile(false, std::nullopt, known).queue == "q:f");
  // Without fashion there is no default: a job naming none is left too.
  auto no_fashion = module_catalog::from_ini("[module.beauty]\n");
  CHECK(decide_reconcile(false, std::nullopt, no_fashion).what == kind::leave_unknown);
}
