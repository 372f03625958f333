#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "messages/atoms.hpp"
#include "messages/io_messages.hpp"
#include "messages/job_messages.hpp"

/// The typed interface of every actor role: the whole protocol in one place.
///
///   queue_taker ──taken──▶ queue_actor ──spawns──▶ job_supervisor ──▶ stage_actor ──▶ image_actor
///                              │                        │                   │              │
///                          redis_ops              job_store pool      fetch pool     image_ledger,
///                                                                                    generate/store pools
namespace quel {

/// Blocks on BLMOVE for one queue (detached). `take` grants permits.
using queue_taker_actor = caf::typed_actor<
  caf::reacts_to<take_atom, int32_t>>;

/// Owns the node's jobs in flight: spawns a supervisor per id taken, acks,
/// requeues or dead-letters it afterwards, keeps the node lease, drains.
using queue_actor = caf::typed_actor<
  caf::reacts_to<taken_atom, job_ticket>,
  caf::reacts_to<job_end_atom, job_disposition>,
  caf::reacts_to<stop_atom>,
  caf::reacts_to<tick_atom>>;

/// Non-blocking Redis bookkeeping on its own connection (detached).
using redis_ops_actor = caf::typed_actor<
  caf::replies_to<ack_atom, std::string, std::string>::with<bool>,
  caf::replies_to<requeue_atom, std::string, std::string, std::string>::with<bool>,
  caf::replies_to<dead_atom, dead_letter_entry>::with<bool>,
  caf::replies_to<house_atom, housekeeping_request>::with<housekeeping_report>,
  // Is the id in any of these processing lists (a live holder has it)?
  caf::replies_to<held_atom, std::vector<std::string>, std::string>::with<bool>,
  // Has an operator asked to cancel this job (`quel-worker cancel`)?
  caf::replies_to<cancel_atom, std::string>::with<bool>>;

/// Job rows in PostgreSQL (detached; one connection each, used as a pool).
using job_store_actor = caf::typed_actor<
  caf::replies_to<claim_atom, ids::job>::with<claimed_job>,
  caf::replies_to<attach_atom, std::vector<int64_t>>::with<std::vector<attach_row>>,
  caf::replies_to<invalid_atom, ids::job, int64_t, std::string>::with<bool>,
  caf::replies_to<start_atom, ids::job, int64_t, int32_t>::with<start_reply>,
  caf::replies_to<finish_atom, job_finish>::with<bool>,
  caf::replies_to<renew_atom, ids::job, int64_t>::with<bool>,
  caf::replies_to<release_atom, ids::job, int64_t>::with<bool>>;

/// The image ledger (the CreditActor role): the only writer of balances.
/// Holds the credits of a stage's images (the stage's identity and the image
/// indices; one outcome per image), commits an image with its charge,
/// releases the holds of given-up images. The identity picks the ledger
/// shard. `run` is a shard's own message to itself: commit the commits
/// gathered since the last one, in one call (the front ignores it).
using image_ledger_actor = caf::typed_actor<
  caf::replies_to<hold_atom, image_identity, std::vector<int32_t>>::with<hold_reply>,
  caf::replies_to<commit_atom, image_commit>::with<commit_result>,
  caf::reacts_to<unhold_atom, image_identity, std::vector<int32_t>>,
  caf::reacts_to<run_atom>>;

/// Reads input images from object storage.
using fetch_actor = caf::typed_actor<
  caf::replies_to<fetch_atom, std::string, int64_t>::with<blob>,
  caf::replies_to<exists_atom, std::string>::with<bool>>;

/// Writes output images to object storage; replies with the size written.
using store_actor = caf::typed_actor<
  caf::replies_to<store_atom, std::string, blob, std::string>::with<int64_t>>;

/// Calls the image model.
using generate_actor = caf::typed_actor<
  caf::replies_to<generate_atom, generation_request>::with<generated_image>>;

/// Admission control: at most N images in flight in this process.
using slots_actor = caf::typed_actor<
  caf::replies_to<acquire_atom>::with<bool>,
  caf::reacts_to<release_atom>>;

/// Admissions to the byte budget of image work in flight
/// (worker.max_inflight_bytes): `acquire n` is answered with n once n bytes
/// are reserved; `release n` gives them back; `run` is the budget's wake
/// after model replies gave bytes back; `get` tells how many are held, by
/// admissions and replies together (tests, metrics).
using byte_budget_actor = caf::typed_actor<
  caf::replies_to<acquire_atom, int64_t>::with<int64_t>,
  caf::reacts_to<release_atom, int64_t>,
  caf::reacts_to<run_atom>,
  caf::replies_to<caf::get_atom>::with<int64_t>>;

/// Replaces members of a pool of I/O actors that die (pool_supervisor.hpp);
/// `restart` is its own delayed replacement of a dead member.
using pool_supervisor_actor = caf::typed_actor<
  caf::reacts_to<restart_atom, caf::actor_addr>>;

/// One job: claim, validate, run stages, finish.
using job_supervisor_actor = caf::typed_actor<
  caf::reacts_to<made_atom, made_image>,
  caf::reacts_to<stage_end_atom, stage_report>,
  caf::reacts_to<restart_atom, int32_t>,
  caf::reacts_to<recheck_atom>,
  caf::reacts_to<renew_atom>,
  caf::reacts_to<stop_atom>,
  caf::reacts_to<abort_atom>,
  // The periodic look for an operator's cancel while the job runs.
  caf::reacts_to<cancel_atom>>;

/// One stage: fetch inputs, run `quantity` image actors, report. `keep`
/// hands the stage an image the model already made whose upload failed, so
/// the next attempt uploads it instead of paying for a new one. `cancel`:
/// start no further image; the stage ends when its running images have.
using stage_actor = caf::typed_actor<
  caf::reacts_to<cancel_atom>,
  caf::reacts_to<made_atom, made_image>,
  caf::reacts_to<keep_atom, int32_t, blob>,
  caf::reacts_to<restart_atom, int32_t>>;

/// One image attempt: hold, generate, store, commit.
using image_actor = caf::typed_actor<
  caf::reacts_to<run_atom>>;

} // namespace quel
