#include "actors/generate_actor.hpp"

#include "actors/guarded_call.hpp"
#include "messages/errors.hpp"

namespace quel {

generate_actor::behavior_type
generate_actor_impl(generate_actor::pointer self,
                    std::shared_ptr<image_generator> generator) {
  classify_escaped_exceptions(self);
  return {
    [generator](generate_atom,
                const generation_request& request) -> caf::result<generated_image> {
      return backend_call<generated_image, generation_error>(
        fault::adapter::generator, "injected generator fault",
        [&] { return generator->generate(request); });
    },
  };
}

} // namespace quel
