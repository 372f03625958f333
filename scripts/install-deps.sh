#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and the demo need.
# Does nothing (and never touches apt) when they are all installed already,
# so it is cheap to call from build/test/demo scripts on every run.
#
#   scripts/install-deps.sh               everything (build, tests, fuzzing, demo, benchmarks)
#   scripts/install-deps.sh --build-only  what building quel-worker alone needs
#                                         (-DBUILD_TESTING=OFF; the Dockerfile's build stage)
set -euo pipefail

build_only=false
[ "${1:-}" = "--build-only" ] && build_only=true

# Each package is here because something in the tree uses it; what uses it
# is said beside it. Packages only other packages need come with those
# through apt.
build_packages=(
  # toolchain (scripts/build.sh: cmake, make, g++, pkg-config for the .pc files)
  build-essential g++ cmake pkg-config
  # libraries CMakeLists.txt finds: CAF, hiredis, libpqxx, libcurl (the HTTP
  # engine), nlohmann-json, vips-cpp (local generator, image conversion)
  libcaf-dev libhiredis-dev libpqxx-dev libcurl4-openssl-dev nlohmann-json3-dev
  libvips-dev
  # OpenSSL headers: app/mesh_config.cpp checks the mesh's TLS files at start
  # the way caf::openssl loads them (libcaf-dev pulls it in too)
  libssl-dev
)
packages=(
  "${build_packages[@]}"
  # fuzzing (scripts/fuzz.sh, run by scripts/test.sh as the ctest test
  # `fuzz`): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # tests: Catch2; redis-server and the PostgreSQL 15 server (initdb, pg_ctl)
  # for local-services.sh and the tests' private servers; redis-cli (waiting
  # for Redis in local-services.sh); psql (demo.sh)
  catch2 redis-server redis-tools postgresql-15 postgresql-client-15
  # scripts and tests: python3 (stand-ins, fault proxy, free ports), the
  # vips CLI (sample images, contact sheet, test inputs), curl and file
  # (demo.sh against the storage stand-in), CA certificates (HTTPS to the real
  # Gemini and Supabase, docs/REAL_BACKENDS.md)
  python3 libvips-tools curl file ca-certificates
  # tests/container/container_checks.py reads docker-compose.yml
  python3-yaml
  # tests/distributed: network namespaces, veth pairs and a bridge (ip);
  # the openssl CLI makes the mesh TLS test's throwaway CA and certificates
  iproute2 openssl
  # tests/browser: the dashboard in Debian's headless Chromium (driven by
  # npm playwright-core, which tests/browser/run.sh installs with `npm ci`),
  # with a font for its text
  chromium fonts-dejavu-core
)
# The benchmarks' Node.js peer and harness (bench/peer-bullmq, bench/harness;
# scripts/bench.sh runs `npm ci` from the lock file): Debian's nodejs and npm,
# unless `node` and `npm` are already on the PATH from elsewhere (NodeSource's
# nodejs bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if $build_only; then
  packages=("${build_packages[@]}")
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  # "ii " = installed; anything else (absent, half-installed, removed) needs apt.
  [ "${status:0:2}" = "ii" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing packages and not root (and no sudo): ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
# --no-install-recommends keeps CI images small: libcaf-doc, the postgresql
# contrib/docs and the X11 bits that libvips recommends are not needed.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
  --no-install-recommends "${missing[@]}"
