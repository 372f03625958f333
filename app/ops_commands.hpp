#pragma once

#include <string>
#include <vector>

#include "app/cli_args.hpp"
#include "app/worker_config.hpp"

/// The operator commands of docs/OPERATIONS.md: looking at the fleet and its
/// jobs, acting on jobs and queues fleet-wide (through Redis and
/// PostgreSQL, so any node may run them and every node obeys), and printing
/// the effective configuration. Each returns the process exit code.
namespace quel {

/// `status [--json] [--watch [--interval=S]] [JOB_ID]`.
int status_command(const worker_config& config, const cli_args& args);

/// `retry JOB_ID...`: failed jobs back to pending and onto their queue.
int retry_command(const worker_config& config, const std::vector<std::string>& ids);

/// `cancel [--timeout=S] JOB_ID...`.
int cancel_command(const worker_config& config, const cli_args& args);

/// `pause QUEUE...` (`paused` true) and `resume QUEUE...` (false).
int pause_command(const worker_config& config, const std::vector<std::string>& queues,
                  bool paused);

/// `config [--json]`.
int config_command(const worker_config& config, const cli_args& args);

} // namespace quel
