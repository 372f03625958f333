# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/bench.sh (from the repository root):
# throwaway Redis and PostgreSQL servers (scripts/local-services.sh) that are
# always stopped on exit.
#
#   start_throwaway_services NAME
#
# starts both in a new directory ${TMPDIR:-/tmp}/quel-NAME-services.XXXXXX,
# kept in $services, and sources their env (QUEL_REDIS_URL,
# QUEL_DATABASE_URL, ...). On exit it first calls the caller's function
# `before_services_stop`, if there is one, then stops the servers and removes
# the directory.

stop_throwaway_services() {
  if declare -F before_services_stop >/dev/null; then
    before_services_stop
  fi
  scripts/local-services.sh stop "$services" || true
  rm -rf "$services"
}

start_throwaway_services() {
  services=$(mktemp -d "${TMPDIR:-/tmp}/quel-$1-services.XXXXXX")
  trap stop_throwaway_services EXIT
  # Turn INT/TERM into a normal exit so that the EXIT trap runs at once
  # (bash would only run it after a foreground command has finished).
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # As root, local-services.sh runs PostgreSQL as the postgres user, which
  # must be able to enter the directory.
  chmod 755 "$services"
  scripts/local-services.sh start "$services"
  # shellcheck disable=SC1091
  . "$services/env"
}
