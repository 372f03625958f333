#include "actors/generate_actor.hpp"

#include "common/fault_injection.hpp"
#include "messages/errors.hpp"

namespace quel {

generate_actor::behavior_type
generate_actor_impl(generate_actor::pointer self,
                    std::shared_ptr<image_generator> generator) {
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& ep) {
    return failure_from_exception(ep);
  });
  return {
    [generator](generate_atom,
                const generation_request& request) -> caf::result<generated_image> {
      try {
        if (fault::should_fail(fault::adapter::generator))
          throw generation_error("injected generator fault", true);
        return generator->generate(request);
      } catch (...) {
        return failure_from_exception(std::current_exception());
      }
    },
  };
}

} // namespace quel
