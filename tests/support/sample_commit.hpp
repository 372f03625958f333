#pragma once

#include <cstdint>

#include "adapters/postgres/job_store.hpp"

namespace quel::test {

/// A WebP image commit of `image`, named as the worker names its outputs:
/// file s<stage>-i<index>.webp under generated/<job_id>/.
image_commit sample_commit(const image_identity& image, int64_t size_bytes);

} // namespace quel::test
