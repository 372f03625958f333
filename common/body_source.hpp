#pragma once

#include <cstddef>
#include <cstdint>

namespace quel {

/// A request body produced while it is sent instead of held whole: the HTTP
/// engine pulls it through libcurl's read callback. Reads name their offset,
/// so a transfer that libcurl rewinds (a request resent on a fresh
/// connection) simply reads again from 0. Implementations are immutable and
/// may be read by several transfers at once.
class body_source {
public:
  virtual ~body_source() = default;

  /// The exact number of bytes the body has (sent as Content-Length).
  virtual int64_t size() const = 0;

  /// Copies up to `max` bytes starting at `offset` into `out`; returns how
  /// many (0 only at the end).
  virtual size_t read(int64_t offset, char* out, size_t max) const = 0;
};

} // namespace quel
