#pragma once

#include <memory>

#include "adapters/generator/image_generator.hpp"
#include "messages/actor_types.hpp"

namespace quel {

/// Calls a blocking image_generator (detached; several form a pool).
/// generation_error keeps its retry class in the reply.
generate_actor::behavior_type
generate_actor_impl(generate_actor::pointer self,
                    std::shared_ptr<image_generator> generator);

} // namespace quel
