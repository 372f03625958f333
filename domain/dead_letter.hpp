#pragma once

#include <string>

namespace quel {

/// One entry of jobs:dead (CONTRACT rule 3): an id that cannot be processed
/// at all, with why. A plain value shared by the Redis adapter that writes it
/// and the actor protocol that asks for it.
struct dead_letter_entry {
  std::string id;
  std::string queue;
  std::string reason;
  std::string at;  // ISO-8601 UTC

  /// Exactly {"id","queue","reason","at"}; invalid UTF-8 is replaced.
  std::string to_json() const;
};

} // namespace quel
