#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "adapters/postgres/job_store.hpp"

namespace quel::test {

/// A WebP image commit for image `index` of stage `stage` of `job_id`, named
/// as the worker names its outputs: file s<stage>-i<index>.webp under
/// generated/<job_id>/.
image_commit sample_commit(const std::string& job_id, int64_t epoch, int stage, int index,
                           const std::optional<std::string>& org_id, int64_t cost,
                           int64_t size_bytes);

} // namespace quel::test
