#pragma once

#include "app/worker_config.hpp"

namespace quel {

/// `quel-worker run [--drain]`: builds the adapters and the actor system,
/// runs until SIGTERM/SIGINT (or, with --drain, until there is nothing left
/// to do), shuts down gracefully and returns the exit code.
int run_worker(const worker_config& config);

/// `quel-worker serve-generator`: publishes a generator node on mesh.listen
/// (generator_node_actor.hpp) and serves remote workers' model calls until
/// SIGTERM/SIGINT (app/generator_command.cpp).
int serve_generator(const worker_config& config);

} // namespace quel
