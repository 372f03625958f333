#include "actors/fetch_actor.hpp"

#include "actors/guarded_call.hpp"
#include "messages/errors.hpp"

namespace quel {

fetch_actor::behavior_type fetch_actor_impl(fetch_actor::pointer self,
                                            std::shared_ptr<object_store> store) {
  classify_escaped_exceptions(self);
  return {
    [store](fetch_atom, const std::string& key, int64_t max_bytes) -> caf::result<blob> {
      return backend_call<blob, storage_error>(
        fault::adapter::storage, "injected storage fault", [&]() -> caf::result<blob> {
          if (auto bytes = store->get(key, max_bytes))
            return std::move(*bytes);
          return to_error(object_missing(key));
        });
    },
    [store](exists_atom, const std::string& key) -> caf::result<bool> {
      return backend_call<bool, storage_error>(fault::adapter::storage,
                                               "injected storage fault",
                                               [&] { return store->exists(key); });
    },
  };
}

} // namespace quel
