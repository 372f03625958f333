#!/usr/bin/env bash
# The test command: installs dependencies, builds, starts throwaway Redis and
# PostgreSQL servers (always stopped on exit), and runs every test, unit and
# integration, through ctest. Extra arguments go to ctest, e.g.
#   scripts/test.sh -L unit          only the unit tests
#   scripts/test.sh -R redis_tests   one test executable
#   scripts/test.sh -L fuzz          only the fuzz targets (the ctest test
#                                    `fuzz`: scripts/fuzz.sh, deterministic)
# Exit code: ctest's.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${QUEL_BUILD_DIR:-$root/build}

scripts/install-deps.sh
QUEL_BUILD_DIR=$build_dir scripts/build.sh
# The same search as build.sh's: the binary's place in the tree is CMake's.
bin=$(find "$build_dir" -type f -name quel-worker -perm -u+x -not -path '*/CMakeFiles/*' \
  | head -n 1)
if [ -z "$bin" ]; then
  echo "test.sh: quel-worker binary not found under $build_dir" >&2
  exit 1
fi

# shellcheck source=scripts/lib/throwaway-services.sh
. scripts/lib/throwaway-services.sh
ctest_pid=
# shellcheck disable=SC2317  # called from the EXIT trap of the services
before_services_stop() {
  # ctest leaves its running test behind when killed: end the whole group.
  if [ -n "$ctest_pid" ]; then kill -TERM -- "-$ctest_pid" 2>/dev/null || true; fi
}
start_throwaway_services test
export QUEL_TEST_REDIS_URL=$QUEL_REDIS_URL
export QUEL_TEST_DATABASE_URL=$QUEL_DATABASE_URL
export QUEL_WORKER_BIN=$bin

# Serially (no -j): tests share the throwaway servers and flush them. In its
# own process group (setsid) so that an interrupt can stop the test it runs.
setsid ctest --test-dir "$build_dir" --output-on-failure "$@" &
ctest_pid=$!
status=0
wait "$ctest_pid" || status=$?
ctest_pid=
exit "$status"
