#include "actors/store_actor.hpp"

#include "common/fault_injection.hpp"
#include "messages/errors.hpp"

namespace quel {

store_actor::behavior_type store_actor_impl(store_actor::pointer self,
                                            std::shared_ptr<object_store> store) {
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr& ep) {
    return failure_from_exception(ep);
  });
  return {
    [store](store_atom, const std::string& key, const blob& bytes,
            const std::string& content_type) -> caf::result<int64_t> {
      try {
        if (fault::should_fail(fault::adapter::storage))
          throw storage_error("injected storage fault", true);
        store->put(key, bytes, content_type);
        return static_cast<int64_t>(bytes.size());
      } catch (...) {
        return failure_from_exception(std::current_exception());
      }
    },
  };
}

} // namespace quel
