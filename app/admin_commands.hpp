#pragma once

#include <string>
#include <vector>

#include "app/worker_config.hpp"

/// The short-lived commands of the CLI (CONTRACT.md section 7). Each prints
/// to stdout and returns the process exit code.
namespace quel {

int migrate_command(const worker_config& config);

/// Pushes ids onto `module`'s queue; without a module, onto the queue of the
/// job's job_input_data.module, else fashion's (rule 5).
int enqueue_command(const worker_config& config, const std::string& module,
                    const std::vector<std::string>& ids);

/// Pushes dead-lettered ids back onto the queue they came from: the given
/// ids, or every entry with `all`.
int requeue_dead_command(const worker_config& config, bool all,
                         const std::vector<std::string>& ids);

} // namespace quel
