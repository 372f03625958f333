#!/usr/bin/env bash
# Configures and builds the worker and its tests (RelWithDebInfo) into
# ./build, or $QUEL_BUILD_DIR; prints the path of the quel-worker binary on
# the last line. Extra arguments go to the configure step (e.g. -DFOO=ON).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${QUEL_BUILD_DIR:-$root/build}
build_type=${QUEL_BUILD_TYPE:-RelWithDebInfo}
jobs=${QUEL_BUILD_JOBS:-$(nproc)}

cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" "$@"
cmake --build "$build_dir" -j"$jobs"

bin=$(find "$build_dir" -type f -name quel-worker -perm -u+x -not -path '*/CMakeFiles/*' \
  | head -n 1)
if [ -z "$bin" ]; then
  echo "build.sh: quel-worker binary not found under $build_dir" >&2
  exit 1
fi
echo "$bin"
