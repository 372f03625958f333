#pragma once

#include <string>
#include <string_view>

namespace quel {

/// True for a canonical 8-4-4-4-12 hexadecimal UUID, in either case.
bool is_uuid(std::string_view text);

/// A fresh node id for this process: `<host>-<pid>-<random hex>`, only
/// `A-Za-z0-9._-` and at most 64 characters (CONTRACT.md rule 27).
std::string new_node_id();

/// True for 1-64 characters of `A-Za-z0-9._-` (QUEL_NODE_ID, rule 27).
bool valid_node_id(std::string_view id);

} // namespace quel
