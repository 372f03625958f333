#pragma once

#include <memory>

#include "adapters/storage/object_store.hpp"
#include "messages/actor_types.hpp"

namespace quel {

/// Writes objects through a blocking object_store (detached; several form a
/// pool). Writing a key again overwrites it.
store_actor::behavior_type store_actor_impl(store_actor::pointer self,
                                            std::shared_ptr<object_store> store);

} // namespace quel
