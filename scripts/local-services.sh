#!/usr/bin/env bash
# Throwaway Redis and PostgreSQL servers on loopback, for the demo, the tests
# and CI. Everything lives in one directory and is stopped by PID.
#
#   scripts/local-services.sh start DIR   start both; writes DIR/env
#   scripts/local-services.sh stop DIR    stop both (safe to repeat)
#
# DIR/env sets QUEL_REDIS_URL, QUEL_DATABASE_URL, REDIS_PORT, PG_PORT; source
# it. Ports are picked free at start. PostgreSQL refuses to run as root, so
# as root the cluster is owned by the `postgres` system user.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

as_pg_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local redis_port pg_port
  redis_port=$(free_port)
  pg_port=$(free_port)

  mkdir -p "$dir/redis"
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" \
    --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"

  mkdir -p "$dir/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pg"; chmod 700 "$dir/pg"; fi
  as_pg_owner "$pg_bin/initdb" -D "$dir/pg/data" -U postgres -A trust \
    --no-sync -E UTF8 >"$dir/pg/initdb.log" 2>&1
  # pg_stat_statements lets tests count the worker's statements per job and
  # per image (tests/integration/worker_statements.cpp); a test without it
  # warns and skips.
  echo "shared_preload_libraries = 'pg_stat_statements'" >>"$dir/pg/data/postgresql.conf"
  # fsync off: these servers are throwaway, and it keeps tests fast.
  # pg_stat_statements (when installed) lets the benchmarks count the
  # statements a worker sends; it must be loaded at start.
  local preload=""
  if [ -f "$(dirname "$pg_bin")/lib/pg_stat_statements.so" ]; then
    preload="-c shared_preload_libraries=pg_stat_statements"
  fi
  as_pg_owner "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 $preload" \
    start >/dev/null

  for _ in $(seq 1 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done

  cat >"$dir/env" <<ENV
export REDIS_PORT=$redis_port
export PG_PORT=$pg_port
export QUEL_REDIS_URL=redis://127.0.0.1:$redis_port/0
export QUEL_DATABASE_URL=postgresql://postgres@127.0.0.1:$pg_port/postgres
ENV
  echo "redis on 127.0.0.1:$redis_port, postgresql on 127.0.0.1:$pg_port ($dir/env)"
}

stop() {
  [ -d "$dir" ] || return 0
  if [ -f "$dir/redis/redis.pid" ]; then
    kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true
    rm -f "$dir/redis/redis.pid"
  fi
  if [ -f "$dir/pg/data/postmaster.pid" ]; then
    as_pg_owner "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 \
      || kill "$(head -n 1 "$dir/pg/data/postmaster.pid")" 2>/dev/null || true
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
