#include "actors/store_actor.hpp"

#include "actors/guarded_call.hpp"
#include "messages/errors.hpp"

namespace quel {

store_actor::behavior_type store_actor_impl(store_actor::pointer self,
                                            std::shared_ptr<object_store> store) {
  classify_escaped_exceptions(self);
  return {
    [store](store_atom, const std::string& key, const blob& bytes,
            const std::string& content_type) -> caf::result<int64_t> {
      return backend_call<int64_t, storage_error>(
        fault::adapter::storage, "injected storage fault", [&] {
          store->put(key, bytes, content_type);
          return static_cast<int64_t>(bytes.size());
        });
    },
  };
}

} // namespace quel
