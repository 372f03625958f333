#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/image_identity.hpp"

/// The job rows the worker reads and writes (through the job_store port of
/// adapters/postgres), as plain values: both the port and the actor protocol
/// use them, so they live below both. No CAF, no I/O.
namespace quel {

/// A job row, with the lease this worker now holds on it.
struct claimed_job {
  enum class outcome {
    claimed,           // this worker holds the job under `epoch`
    missing,           // no row with this id
    finished,          // completed or failed already: drop the id
    leased_elsewhere,  // another node holds a live lease (see owner_node)
    quarantined,       // claimed too often (crash loop): failed by the claim
  };
  outcome result = outcome::missing;
  ids::job job_id;
  std::string job_type;
  std::string input_json;
  std::optional<ids::org> org_id;
  std::optional<std::string> production_id;
  std::string status;   // status before the claim
  int64_t epoch = 0;    // fencing token: every later write names it
  int attempts = 0;     // how many times the job has been claimed
  /// leased_elsewhere only: the node holding the lease and how long it has
  /// left, so the caller can wait for it to expire when that node does not
  /// hold the id any more (a crashed process whose ids were handed back).
  std::string owner_node;
  std::chrono::milliseconds lease_left{0};

  /// Image `image_index` of stage `stage_index` of this job under this
  /// claim's lease, charged `cost` to the job's organisation (if it has one).
  image_identity image(int stage_index, int image_index, int64_t cost) const {
    return image_identity{job_id, epoch, stage_index, image_index, org_id, cost};
  }
};

struct attach_row {
  int64_t attach_id = 0;
  std::optional<std::string> file_path;
  std::optional<std::string> directory;
};

/// An output image already committed (for resuming a job after a crash):
/// where it sits in the job and what it became. The rest of its identity
/// (job, epoch, organisation) is the caller's: it asked for this job.
struct committed_image {
  int stage_index = 0;
  int image_index = 0;
  int64_t attach_id = 0;
  std::string object_key;
};

/// An image a job gave up, as its finish records it (`status JOB_ID`).
struct image_failure {
  int stage_index = 0;
  int image_index = 0;
  std::optional<int> attempts;  // nullopt: unknown (its stage gave up after crashes)
  std::string reason;
};

struct job_finish {
  ids::job job_id;
  int64_t epoch = 0;
  bool completed = false;
  std::optional<std::string> error_message;
  /// The job's images in (stage_index, image_index) order, appended to the
  /// production's attach_ids after the ids it already had.
  std::vector<int64_t> ordered_attach_ids;
  /// The images given up, recorded with the job's final status.
  std::vector<image_failure> failed_images;
};

} // namespace quel
