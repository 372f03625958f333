#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "common/blob.hpp"
#include "domain/image_identity.hpp"
#include "domain/stage_planning.hpp"

/// Messages between the QueueActor, JobSupervisors and StageActors.
///
/// All actors of one worker live in one process: nodes coordinate through
/// Redis and PostgreSQL leases, never through remote actors. Message types
/// are therefore local-only (CAF_ALLOW_UNSAFE_MESSAGE_TYPE at the end), which
/// lets them carry blobs without copying image bytes.
namespace quel {

/// An id taken off a queue, now in this node's processing list.
struct job_ticket {
  std::string job_id;      // as pushed (may not even be a UUID)
  std::string queue;       // exact queue name
  std::string module;      // module of that queue
  std::string processing;  // this node's processing list for the queue
};

/// What to do with a ticket's id in Redis once its supervisor stops.
struct job_disposition {
  enum class action {
    ack,          // finished (or someone else's): remove from processing
    requeue,      // unfinished at shutdown: back to the queue's head
    dead_letter,  // cannot be processed at all: jobs:dead with the reason
  };
  job_ticket ticket;
  action what = action::ack;
  std::string reason;      // for dead letters and logs
  bool job_completed = false;
  bool job_failed = false;
};

/// Until when (steady clock) this process may still believe it holds a
/// job's lease: the time the last successful claim or renewal was *sent*
/// plus the lease TTL. Shared by a JobSupervisor and its image actors, which
/// do not upload after it passed: a worker that was paused (SIGSTOP, a long
/// GC-like stall) must not overwrite an object the job's new owner stored.
/// PostgreSQL fencing still decides every commit; this closes the storage
/// side, which cannot be fenced, down to the moment of the check.
struct lease_clock {
  std::atomic<int64_t> valid_until_ms{0};

  static int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
  bool valid() const { return now_ms() < valid_until_ms.load(); }
  void extend_from(int64_t sent_ms, std::chrono::milliseconds ttl) {
    valid_until_ms = sent_ms + ttl.count();
  }
};

using lease_clock_ptr = std::shared_ptr<lease_clock>;

/// Everything a StageActor needs to make its images: the stage's plan
/// (domain/stage_planning) and the job's lease clock.
struct stage_plan : planned_stage {
  lease_clock_ptr lease;       // see lease_clock
  std::string module;          // the job's module (metric labels)
};

/// An image that is made: committed, charged, stored.
struct made_image {
  image_identity image;
  int64_t attach_id = 0;
  std::string object_key;
  blob bytes;                  // kept for stages that use it (fromStage)
};

/// An image given up on, with the reason shown in error_message.
struct failed_image {
  image_identity image;
  std::string reason;
  int attempts = 0;  // image actors started for it in the stage run that gave it up
};

/// A stage's result, sent to its supervisor when every image is settled.
struct stage_report {
  int stage_index = 0;
  std::vector<failed_image> failures;
};

} // namespace quel

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::job_ticket)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::job_disposition)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::stage_plan)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::made_image)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(quel::stage_report)
