#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "domain/image_identity.hpp"

/// What a credit hold and an image's commit are asked and answer (through
/// the credit_ledger port of adapters/postgres), as plain values shared by
/// the port and the actor protocol. No CAF, no I/O.
namespace quel {

enum class hold_outcome { held, insufficient_credits, lease_lost };

/// Everything committed for one output image, in one transaction.
struct image_commit {
  image_identity image;   // which image, under which lease, who pays how much
  std::string object_key;
  std::string file_name;
  std::string mime_type;
  int64_t size_bytes = 0;
  /// Attempts of the run that made it (docs/OPERATIONS.md, "Attempts"),
  /// stored in its marker for `status JOB_ID`; 0: unknown.
  int attempts = 0;
};

struct commit_result {
  enum class outcome {
    committed,
    already_committed,     // committed earlier (attach_id is that row's)
    lease_lost,            // fenced: another worker owns the job now
    insufficient_credits,  // the balance cannot pay for it (nothing written)
  };
  outcome result = outcome::committed;
  int64_t attach_id = 0;
  int completed_images = 0;
  int total_images = 0;
  std::optional<int64_t> balance_after;
};

} // namespace quel
