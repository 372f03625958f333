#pragma once

#include <cstdint>
#include <string>

#include "adapters/postgres/pg_connection.hpp"

/// The PostgreSQL half of a mesh takeover (docs/DISTRIBUTED.md): only the
/// survivor elected through Redis calls it. No CAF.
namespace quel {

/// Fences every unfinished job under a live lease of `dead_node`: its epoch
/// moves on and its lease expires now (quel_worker_take_over_node), so the
/// next ordinary claim takes it at once and the dead node's late writes are
/// refused. Returns how many jobs; throws what pg_connection::run throws.
int64_t take_over_node_jobs(pg_connection& db, const std::string& dead_node);

} // namespace quel
