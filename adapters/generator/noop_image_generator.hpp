#pragma once

#include "adapters/generator/image_generator.hpp"

namespace quel {

/// The benchmarking backend (QUEL_GENERATOR=noop): answers every request at
/// once with the same tiny valid image in the requested format, so a
/// benchmark measures the worker's own cost (queue, database, storage,
/// actors) without a model's latency or libvips' rendering. The three
/// images are encoded once, at construction; a call only hands out a shared
/// blob (no copy, no CPU work). Not for production: every output is the
/// same 8x8 picture. Safe to call from several threads.
class noop_image_generator : public image_generator {
public:
  noop_image_generator();

  generated_image generate(const generation_request& request) override;

private:
  blob webp_;
  blob png_;
  blob jpeg_;
};

} // namespace quel
