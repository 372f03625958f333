#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "domain/ids.hpp"

namespace quel {

/// Which image a step is about, and under which lease and price: the one
/// value every message and store call about an output image carries (hold,
/// generate, commit, release, made, failed). Plain values, no CAF, so the
/// adapters take it as it is and it can be serialised as one record.
struct image_identity {
  ids::job job_id;
  int64_t epoch = 0;              // the job's lease (fencing token)
  int stage_index = 0;
  int image_index = 0;
  std::optional<ids::org> org_id; // who pays; none: nobody is charged
  int64_t cost = 0;               // credits per image (0 without org_id)

  /// The same image's stage, for image `index` (a stage's images share
  /// everything but the index).
  image_identity with_image(int index) const {
    auto copy = *this;
    copy.image_index = index;
    return copy;
  }

  /// What serialises credit changes: the organisation, or the job when
  /// nobody pays. A hold, its release and its commit share it.
  const std::string& ledger_key() const { return org_id ? org_id->str() : job_id.str(); }

  /// "stage S image I", for logs and error messages.
  std::string where() const {
    return "stage " + std::to_string(stage_index) + " image " + std::to_string(image_index);
  }
};

} // namespace quel
