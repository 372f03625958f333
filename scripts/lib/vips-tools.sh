# shellcheck shell=bash
# Sourced by the scripts that draw images with the vips CLI (libvips-tools):
# the argument check, the vips check and a scratch directory they all start
# with.
#
#   vips_script_start USAGE MIN MAX "$@"
#
# exits 2 with "usage: $0 USAGE" unless MIN to MAX arguments were given (MAX
# empty: no upper bound), exits 1 when the vips CLI is missing, and makes a
# scratch directory in $work that is removed on exit.
vips_script_start() {
  local usage=$1 min=$2 max=$3
  shift 3
  if (($# < min)) || { [[ -n $max ]] && (($# > max)); }; then
    echo "usage: $0 $usage" >&2
    exit 2
  fi
  command -v vips >/dev/null || { echo "$0: vips not found (apt-get install libvips-tools)" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
}
