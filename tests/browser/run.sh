#!/usr/bin/env bash
# End-to-end test of the dashboard in Debian's headless Chromium (ctest
# `dashboard_browser`, label browser): runs the demo's four jobs with the
# local generator, starts a worker with its HTTP endpoint and an admin
# token, pushes one dead letter, and drives the dashboard with
# dashboard.test.js (playwright-core, pinned in package-lock.json). Saves a
# screenshot of each page in OUT_DIR.
#
#   tests/browser/run.sh QUEL_WORKER_BIN OUT_DIR
#
# Needs QUEL_TEST_REDIS_URL and QUEL_TEST_DATABASE_URL (scripts/test.sh sets
# them); it works in its own database and Redis database number, so it
# leaves the other tests' data alone. Exit 77 (skipped) without them.
set -euo pipefail

bin=$(realpath "$1")
out=$(realpath -m "$2")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ -z "${QUEL_TEST_REDIS_URL:-}" ] || [ -z "${QUEL_TEST_DATABASE_URL:-}" ]; then
  echo "dashboard_browser: QUEL_TEST_REDIS_URL/QUEL_TEST_DATABASE_URL unset (run scripts/test.sh)"
  exit 77
fi
chromium=${QUEL_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "dashboard_browser: $chromium missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
worker_pid=
readonly_pid=
cleanup() {
  for pid in $worker_pid $readonly_pid; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Its own PostgreSQL database and Redis database number.
base_db=${QUEL_TEST_DATABASE_URL%/*}
db_name=quel_browser_test
psql "$QUEL_TEST_DATABASE_URL" -q -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" -c "CREATE DATABASE $db_name"
export QUEL_DATABASE_URL=$base_db/$db_name
redis_base=${QUEL_TEST_REDIS_URL%/[0-9]*}
export QUEL_REDIS_URL=$redis_base/9
redis-cli -u "$QUEL_REDIS_URL" FLUSHDB >/dev/null

storage=$work/storage
export QUEL_STORAGE=local QUEL_STORAGE_DIR=$storage QUEL_STORAGE_BUCKET=images
export QUEL_GENERATOR=local QUEL_HTTP_ADDR=off
unset QUEL_CREDITS_PER_IMAGE QUEL_NODE_ID QUEL_OUTPUT_FORMAT QUEL_HTTP_ADMIN_TOKEN || true
cd "$root"
psql_q() { psql "$QUEL_DATABASE_URL" -v ON_ERROR_STOP=1 -q "$@"; }
psql_q -f scripts/sql/production_schema.sql
"$bin" migrate >/dev/null

# The demo's inputs and jobs (scripts/demo.sh).
samples=$work/samples
scripts/make-sample-images.sh "$samples" >/dev/null
put() { mkdir -p "$(dirname "$storage/images/$2")"; cp "$samples/$1" "$storage/images/$2"; }
for f in model.png top.jpg bottom.webp shoes.png background.jpg; do put "$f" "inputs/atelier/$f"; done
put bag.jpg inputs/legacy/bag.jpg
for f in product.png face.webp; do put "$f" "inputs/tiny/$f"; done
size_of() { stat -c %s "$samples/$1"; }
psql_q -v model_size="$(size_of model.png)" -v top_size="$(size_of top.jpg)" \
  -v bottom_size="$(size_of bottom.webp)" -v shoes_size="$(size_of shoes.png)" \
  -v bag_size="$(size_of bag.jpg)" -v background_size="$(size_of background.jpg)" \
  -v product_size="$(size_of product.png)" -v face_size="$(size_of face.webp)" \
  -f scripts/sql/demo_seed.sql
jobs=(bbbbbbbb-0000-4000-8000-000000000001 bbbbbbbb-0000-4000-8000-000000000002
      bbbbbbbb-0000-4000-8000-000000000003 bbbbbbbb-0000-4000-8000-000000000004)
"$bin" enqueue "${jobs[@]}" >/dev/null
timeout 300 "$bin" run --drain 2> "$out/drain-worker.log"

# 1,000 more finished jobs, so the jobs page is paged and measured at size.
psql_q -c "INSERT INTO quel_production_jobs (job_id, job_type, job_status, job_input_data,
             total_images, completed_images, created_at, started_at, completed_at)
           SELECT gen_random_uuid(), 'single_batch', 'completed',
                  '{\"prompt\": \"p\", \"quantity\": 1}'::jsonb, 1, 1,
                  now() - interval '1 day' - g * interval '1 second',
                  now() - interval '1 day' - g * interval '1 second',
                  now() - interval '1 day' - g * interval '1 second' + interval '3 seconds'
             FROM generate_series(1, 1000) g"

# What the pages must show, from the database itself.
expected=$(psql "$QUEL_DATABASE_URL" -At -v ON_ERROR_STOP=1 -c \
  "SELECT json_agg(json_build_object('job_id', job_id, 'status', job_status,
                                     'completed', completed_images, 'total', total_images)
                   ORDER BY job_id)
     FROM quel_production_jobs WHERE job_id::text LIKE 'bbbbbbbb-%'")

# A dead letter to re-enqueue: a finished job's id (the worker that takes it
# back finds it completed and drops it).
dead_id=${jobs[0]}
redis-cli -u "$QUEL_REDIS_URL" LPUSH jobs:dead \
  "{\"id\":\"$dead_id\",\"queue\":\"jobs:queue\",\"reason\":\"browser test: parked by hand\",\"at\":\"2026-01-01T00:00:00Z\"}" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token=browser-test-token-$RANDOM$RANDOM
QUEL_HTTP_ADDR=127.0.0.1:$port QUEL_HTTP_ADMIN_TOKEN=$token "$bin" run 2> "$out/dashboard-worker.log" &
worker_pid=$!
# A second worker without a token: its dashboard is read-only.
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
QUEL_HTTP_ADDR=127.0.0.1:$port2 "$bin" run 2> "$out/read-only-worker.log" &
readonly_pid=$!
for p in "$port" "$port2"; do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

DASHBOARD_URL=http://127.0.0.1:$port READONLY_URL=http://127.0.0.1:$port2 OUT_DIR=$out ADMIN_TOKEN=$token EXPECTED_JOBS=$expected \
  DEAD_ID=$dead_id CHROMIUM=$chromium node "$here/dashboard.test.js"
