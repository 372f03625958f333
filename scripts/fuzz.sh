#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in ./build-fuzz (or $QUEL_FUZZ_BUILD_DIR) and
# runs them (docs/SECURITY.md, "Fuzzing").
#
#   scripts/fuzz.sh [TARGET...]                  deterministic: each target
#       over a copy of tests/fuzz/corpus/<target>/ with -seed=1 and a fixed
#       number of runs: the same seed corpus and mutation seed every time,
#       bounded in time (this is what scripts/test.sh and CI run; a new
#       random finding must not fail a landing).
#   scripts/fuzz.sh --explore SECONDS [TARGET...]  exploratory: random
#       seeds for SECONDS per target; the corpus grows in
#       build-fuzz/explore/<target>/ (copy what is worth keeping into
#       tests/fuzz/corpus/<target>/).
#
# Fails (exit 1) on any crash, leak, UB report, timeout or out-of-memory,
# naming the target and the input, which is kept under build-fuzz/artifacts/.
# TARGET is a file name of tests/fuzz without fuzz_ and .cpp (job_input, ...).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${QUEL_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${QUEL_BUILD_JOBS:-$(nproc)}

explore=
if [ "${1:-}" = "--explore" ]; then
  explore=${2:?"--explore needs a number of seconds"}
  shift 2
fi

# Runs per target in deterministic mode: each takes ~10-20 s on a 2-core
# machine (the image decoder is far slower per input than the parsers).
declare -A runs=(
  [job_input]=150000
  [gemini_reply]=100000
  [storage_reply]=60000
  [image_convert]=8000
  [redis_url]=400000
  [secret_text]=400000
  [config_ini]=100000
  [config_values]=400000
)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in tests/fuzz/fuzz_*.cpp; do
    name=${source#tests/fuzz/fuzz_}
    targets+=("${name%.cpp}")
  done
fi

for cc in clang clang++; do
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz.sh: $cc not found (scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
done

echo "fuzz.sh: building the fuzz targets in $build_dir"
mkdir -p "$build_dir"
build_log=$build_dir/build.log
if ! { CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -DQUEL_FUZZ=ON \
         -DCMAKE_BUILD_TYPE=RelWithDebInfo \
       && cmake --build "$build_dir" -j"$jobs"; } >"$build_log" 2>&1; then
  tail -n 80 "$build_log" >&2
  echo "fuzz.sh: FAILED to build the fuzz targets (log $build_log)" >&2
  exit 1
fi

# Any sanitizer report ends the run with a non-zero status; leaks are
# checked at the end of every input.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
artifacts=$build_dir/artifacts
mkdir -p "$artifacts"

failed=()
for target in "${targets[@]}"; do
  bin=$build_dir/tests/fuzz/fuzz_$target
  corpus=tests/fuzz/corpus/$target
  if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
    echo "fuzz.sh: unknown target '$target' (no $bin or $corpus)" >&2
    exit 1
  fi
  if [ -n "$explore" ]; then
    work=$build_dir/explore/$target
    mkdir -p "$work"
    args=(-max_total_time="$explore")
  else
    # A fresh copy: libFuzzer adds to the corpus it is given, and what it
    # adds must not change the next run.
    work=$build_dir/corpus-run/$target
    rm -rf "$work"
    mkdir -p "$work"
    args=(-seed=1 -runs="${runs[$target]:-50000}")
  fi
  cp -n "$corpus"/* "$work"/ 2>/dev/null || true
  log=$build_dir/fuzz-$target.log
  echo "fuzz.sh: $target (${args[*]}) ..."
  started=$SECONDS
  status=0
  "$bin" "${args[@]}" -detect_leaks=1 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
    "$work" >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: FAILED $target (exit $status) after $((SECONDS - started)) s;" \
         "log $log" >&2
    # The sanitizer's report and the input that caused it.
    grep -E -A40 '^==[0-9]+==ERROR|runtime error:|^SUMMARY|deadly signal|Test unit written' \
      "$log" | tail -n 60 >&2 || tail -n 60 "$log" >&2
    for input in $(grep -o "Test unit written to [^ ]*" "$log" | awk '{print $5}'); do
      echo "fuzz.sh: $target failing input: $input" >&2
      echo "fuzz.sh: reproduce: $bin $input" >&2
      head -c 512 "$input" | od -c | head -n 20 >&2
    done
    failed+=("$target")
  else
    echo "fuzz.sh: ok $target in $((SECONDS - started)) s:" \
         "$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') inputs," \
         "$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1 | grep -o 'cov: [0-9]*')"
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} target(s) passed"
