#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace quel {

/// A migration of config/migrations failed to apply (its transaction was
/// rolled back; the ones before it stay applied).
class migration_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Applies the embedded migrations not yet recorded in
/// quel_worker_migrations, each in its own transaction under a transaction
/// advisory lock (two concurrent runs are safe), and returns the names it
/// applied. Safe to repeat. Throws database_unavailable when the server
/// cannot be reached and migration_error when a migration fails.
std::vector<std::string> apply_migrations(const std::string& database_url);

} // namespace quel
