#!/usr/bin/env bash
# Stand-in Gemini and Supabase Storage servers (tests/standins/*.py) on free
# loopback ports, for the demo, manual runs and CI. Stopped by PID.
#
#   scripts/standins.sh start DIR   start both; writes DIR/env
#   scripts/standins.sh stop DIR    stop both (safe to repeat)
#
# DIR/env exports what the worker needs to use them (QUEL_STORAGE=supabase
# QUEL_GENERATOR=gemini are left to the caller):
#   QUEL_SUPABASE_URL, QUEL_SUPABASE_KEY (an sb_secret_ test key the stand-in
#   insists on), QUEL_GEMINI_BASE_URL, QUEL_GEMINI_API_KEY, and
#   STANDIN_SUPABASE_PORT / STANDIN_GEMINI_PORT for their /__control,
#   /__stats and /__objects endpoints.
# Optional: STANDIN_GEMINI_LATENCY_MS (delay before every model reply).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

here=$(cd "$(dirname "$0")/.." && pwd)
supabase_key=sb_secret_standin_${RANDOM}${RANDOM}
gemini_key=standin-gemini-key-${RANDOM}${RANDOM}

# Starts one stand-in with --port 0 and waits for its "ready PORT" line.
launch() {
  local name=$1 script=$2
  shift 2
  : >"$dir/$name.out"
  python3 -u "$here/tests/standins/$script" --port 0 "$@" \
    >"$dir/$name.out" 2>"$dir/$name.log" &
  echo $! >"$dir/$name.pid"
  for _ in $(seq 1 100); do
    if grep -q '^ready ' "$dir/$name.out"; then
      sed -n 's/^ready \([0-9]*\).*/\1/p' "$dir/$name.out" | head -n 1
      return 0
    fi
    kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name stand-in did not start; see $dir/$name.log" >&2
  return 1
}

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local supabase_port gemini_port
  supabase_port=$(launch supabase supabase_standin.py --key "$supabase_key")
  gemini_port=$(launch gemini gemini_standin.py --key "$gemini_key" \
    --latency-ms "${STANDIN_GEMINI_LATENCY_MS:-0}")
  cat >"$dir/env" <<ENV
export STANDIN_SUPABASE_PORT=$supabase_port
export STANDIN_GEMINI_PORT=$gemini_port
export QUEL_SUPABASE_URL=http://127.0.0.1:$supabase_port
export QUEL_SUPABASE_KEY=$supabase_key
export QUEL_GEMINI_BASE_URL=http://127.0.0.1:$gemini_port
export QUEL_GEMINI_API_KEY=$gemini_key
ENV
  chmod 600 "$dir/env"
  echo "supabase stand-in on 127.0.0.1:$supabase_port, gemini stand-in on 127.0.0.1:$gemini_port ($dir/env)"
}

stop() {
  [ -d "$dir" ] || return 0
  local name pid
  for name in supabase gemini; do
    if [ -f "$dir/$name.pid" ]; then
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      rm -f "$dir/$name.pid"
    fi
  done
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
