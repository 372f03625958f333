#!/usr/bin/env bash
# Runs the benchmarks of bench/ against throwaway Redis and PostgreSQL
# servers (always stopped on exit) and prints their tables.
#
#   scripts/bench.sh            the C++ benchmarks, full (about 5 minutes)
#   scripts/bench.sh --quick    the same, fewer jobs and runs (about 2 minutes)
#   scripts/bench.sh COMMAND [--smoke] [options]
#                               one benchmark of issue 10 (bench/harness):
#                               throughput, roundtrips, slow, memory, latency,
#                               soak; --smoke runs it tiny, in seconds
#   scripts/bench.sh smoke      every COMMAND with --smoke (ctest bench_smoke)
#
# Builds RelWithDebInfo into ./build or $QUEL_BUILD_DIR first (only the
# worker and the benchmarks; QUEL_BENCH_NO_BUILD=1 skips it, for ctest);
# QUEL_WORKER_BIN overrides the worker binary. The Node.js peer and harness
# get their packages from bench/peer-bullmq/package-lock.json (`npm ci`).
# See bench/README.md for what each number means.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${QUEL_BUILD_DIR:-$root/build}
jobs=${QUEL_BUILD_JOBS:-2}

usage="usage: $0 [--quick] | {throughput|roundtrips|slow|memory|latency|soak} [--smoke] [options] | smoke"
quick=0
command=""
case "${1:-}" in
  "") ;;
  --quick) quick=1; shift ;;
  throughput|roundtrips|slow|memory|latency|soak|smoke) command=$1; shift ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
if [ -z "$command" ] && [ $# -gt 0 ]; then echo "$usage" >&2; exit 2; fi

if [ "${QUEL_BENCH_NO_BUILD:-0}" != 1 ]; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
    -DQUEL_BUILD_BENCH=ON >/dev/null
  cmake --build "$build_dir" -j"$jobs" --target quel-worker pg_commit_bench \
    worker_throughput_bench
fi

if [ -n "$command" ]; then
  bin=${QUEL_WORKER_BIN:-$(find "$build_dir" -type f -name quel-worker -perm -u+x \
    -not -path '*/CMakeFiles/*' | head -n 1)}
  [ -x "$bin" ] || { echo "bench.sh: quel-worker not found under $build_dir" >&2; exit 1; }
  # The lock file pins every package; npm ci reinstalls only when it changed.
  peer=bench/peer-bullmq
  if ! cmp -s "$peer/package-lock.json" "$peer/node_modules/.package-lock.json.ci" 2>/dev/null; then
    (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$peer/package-lock.json" "$peer/node_modules/.package-lock.json.ci"
  fi
  # shellcheck source=scripts/lib/throwaway-services.sh
  . scripts/lib/throwaway-services.sh
  start_throwaway_services bench
  export QUEL_WORKER_BIN=$bin QUEL_BENCH_SERVICES=$services TMPDIR=$services
  export NODE_PATH=$root/$peer/node_modules
  if [ "$command" = smoke ]; then
    # Tiny runs of every benchmark: they must do the work and check it, not be fast.
    for c in throughput roundtrips slow memory latency soak; do
      echo "== $c --smoke"
      timeout 300 node bench/harness/bench.js "$c" --smoke
    done
    exit 0
  fi
  echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  node bench/harness/bench.js "$command" "$@"
  echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi
bin=${QUEL_WORKER_BIN:-$(find "$build_dir" -type f -name quel-worker -perm -u+x \
  -not -path '*/CMakeFiles/*' | head -n 1)}
bench_bin=$(dirname "$(find "$build_dir" -type f -name pg_commit_bench -perm -u+x \
  -not -path '*/CMakeFiles/*' | head -n 1)")
if [ -z "$bin" ] || [ ! -x "$bench_bin/pg_commit_bench" ]; then
  echo "bench.sh: quel-worker or the benchmarks not found under $build_dir" >&2
  exit 1
fi

# shellcheck source=scripts/lib/throwaway-services.sh
. scripts/lib/throwaway-services.sh
start_throwaway_services bench
export QUEL_WORKER_BIN=$bin
export TMPDIR=$services

if [ "$quick" = 1 ]; then
  pg_args=(--jobs=100 --runs=3)
  worker_args=(--runs=1 --jobs=20 --slow-local-jobs=4 --slow-gemini-jobs=64)
else
  pg_args=(--jobs=250 --runs=5)
  worker_args=(--runs=3 --jobs=50 --slow-local-jobs=8 --slow-gemini-jobs=128)
fi

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
timeout 240 "$bench_bin/pg_commit_bench" "${pg_args[@]}" --markdown || status=$?
echo
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 300 "$bench_bin/worker_throughput_bench" "${worker_args[@]}" --markdown || status=$?
echo
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
