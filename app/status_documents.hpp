#pragma once

#include <nlohmann/json.hpp>

#include "app/worker_config.hpp"

namespace quel {

class pg_job_admin;
class redis_queue;
struct job_view;

/// Everything `status` shows: queues (depth, paused, oldest id and its
/// age), jobs in flight with their progress, nodes, the latest dead letters.
/// Text from Redis and PostgreSQL is redacted, clipped and escaped.
nlohmann::json fleet_document(const worker_config& c, redis_queue& redis, pg_job_admin& db);

/// Dead letters `from`..`to` (LRANGE indexes) of jobs:dead as operators see
/// them (status and the dashboard): fields clipped and escaped, an entry that
/// is not a JSON object shown raw.
nlohmann::json dead_letter_entries(redis_queue& redis, int64_t from, int64_t to);

/// One job (`status JOB_ID`): its row, lease, every stage and image with
/// its outcome and reason, holds and credit-log rows.
nlohmann::json job_document(const worker_config& c, const job_view& j, bool cancel_requested);

} // namespace quel
