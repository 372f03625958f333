#pragma once

#include <memory>

#include "adapters/storage/object_store.hpp"
#include "messages/actor_types.hpp"

namespace quel {

/// Reads objects through a blocking object_store (detached; several form a
/// pool). A missing object is the error worker_errc::object_missing.
fetch_actor::behavior_type fetch_actor_impl(fetch_actor::pointer self,
                                            std::shared_ptr<object_store> store);

} // namespace quel
