#!/usr/bin/env bash
# Runs every benchmark of bench/ against throwaway Redis and PostgreSQL
# servers (always stopped on exit) and prints their tables.
#
#   scripts/bench.sh            full runs (about 5 minutes on 2 cores)
#   scripts/bench.sh --quick    fewer jobs and runs (about 2 minutes)
#
# Builds RelWithDebInfo into ./build or $QUEL_BUILD_DIR first (only the
# worker and the benchmarks); QUEL_WORKER_BIN overrides the worker binary.
# Each benchmark is bounded by `timeout`, so the measuring part never runs
# past about 9 minutes. See bench/README.md for what each number means.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${QUEL_BUILD_DIR:-$root/build}
jobs=${QUEL_BUILD_JOBS:-2}

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
done

cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
  -DQUEL_BUILD_BENCH=ON >/dev/null
cmake --build "$build_dir" -j"$jobs" --target quel-worker pg_commit_bench \
  worker_throughput_bench
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
