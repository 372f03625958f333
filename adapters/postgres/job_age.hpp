#pragma once

#include <optional>
#include <string>

namespace quel {

class pg_connection;

/// Seconds since the job row `job_id` was created (now() - created_at on
/// the server's clock); nullopt when there is no such row or the id is not a
/// UUID. One round trip; throws database_unavailable during an outage.
std::optional<double> job_age_seconds(pg_connection& db, const std::string& job_id);

} // namespace quel
