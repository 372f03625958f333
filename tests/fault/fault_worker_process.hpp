#pragma once

#include "tests/support/child_process.hpp"

namespace quel::test {

/// The fault suite's name for a background child (the worker binary, the TCP
/// proxy); one implementation for every test, in tests/support.
using fault_process = child_process;

} // namespace quel::test
