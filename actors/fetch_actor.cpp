#include "actors/fetch_actor.hpp"

#include "common/fault_injection.hpp"
#include "messages/errors.hpp"

namespace quel {

fetch_actor::behavior_type fetch_actor_impl(fetch_actor::pointer self,
                                            std::shared_ptr<object_store> store) {
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& ep) {
    return failure_from_exception(ep);
  });
  return {
    [store](fetch_atom, const std::string& key, int64_t max_bytes) -> caf::result<blob> {
      try {
        if (fault::should_fail(fault::adapter::storage))
          throw storage_error("injected storage fault", true);
        if (auto bytes = store->get(key, max_bytes))
          return std::move(*bytes);
        return to_error(object_missing(key));
      } catch (...) {
        return failure_from_exception(std::current_exception());
      }
    },
    [store](exists_atom, const std::string& key) -> caf::result<bool> {
      try {
        if (fault::should_fail(fault::adapter::storage))
          throw storage_error("injected storage fault", true);
        return store->exists(key);
      } catch (...) {
        return failure_from_exception(std::current_exception());
      }
    },
  };
}

} // namespace quel
