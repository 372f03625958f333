#pragma once

/// What `quel-worker --version` prints. Filled in when CMake configures the
/// build (cmake/build_info.cpp.in): the commit is the one checked out at
/// configure time ("unknown" outside a git checkout, e.g. a source tarball),
/// so a build reconfigured after new commits shows the newer commit.
namespace quel::build_info {

const char* version();       // project(VERSION) of CMakeLists.txt
const char* git_commit();    // full hash, "unknown" without git
const char* git_describe();  // `git describe --always --dirty`, "unknown" without git
const char* build_type();    // CMAKE_BUILD_TYPE

} // namespace quel::build_info
