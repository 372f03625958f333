#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine, from the repo root,
# installs what is needed, builds the worker, starts throwaway Redis and
# PostgreSQL servers, seeds two organisations and four jobs, runs the worker
# until the queues are empty and shows what it made. Re-runnable: everything
# lives in ./.demo, which is wiped first. Servers are stopped on exit.
#
# QUEL_STORAGE=supabase QUEL_GENERATOR=gemini scripts/demo.sh runs the same
# demo through the real wire formats: without QUEL_SUPABASE_URL /
# QUEL_GEMINI_BASE_URL it starts the stand-in servers of tests/standins
# (scripts/standins.sh) and uploads the inputs there.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
demo=$root/.demo
services=$demo/services

say() { printf '\n==> %s\n' "$*"; }

# A previous run that was killed may have left its servers running.
if [ -d "$services" ]; then
  scripts/local-services.sh stop "$services" || true
fi
rm -rf "$demo"
mkdir -p "$demo"

# QUEL_WORKER_BIN=PATH uses an already built binary and skips install and build.
bin=${QUEL_WORKER_BIN:-}
if [ -z "$bin" ]; then
  say "Installing dependencies (skipped when already installed)"
  scripts/install-deps.sh
  say "Building"
  # build.sh prints the binary's path on its last line.
  scripts/build.sh | tee "$demo/build.log"
  bin=$(tail -n 1 "$demo/build.log")
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "quel-worker binary not found (got '$bin')" >&2
  exit 1
fi
echo "worker binary: $bin"

storage_backend=${QUEL_STORAGE:-local}
generator_backend=${QUEL_GENERATOR:-local}
standins=$demo/standins
stop_all() {
  scripts/local-services.sh stop "$services" || true
  [ -d "$standins" ] && scripts/standins.sh stop "$standins" || true
}

say "Starting throwaway Redis and PostgreSQL in $services"
trap stop_all EXIT
scripts/local-services.sh start "$services"
# shellcheck disable=SC1091
. "$services/env"

if { [ "$storage_backend" = supabase ] && [ -z "${QUEL_SUPABASE_URL:-}" ]; } ||
   { [ "$generator_backend" = gemini ] && [ -z "${QUEL_GEMINI_BASE_URL:-}" ]; }; then
  say "Starting the Supabase Storage and Gemini stand-ins in $standins"
  scripts/standins.sh start "$standins"
  # shellcheck disable=SC1091
  . "$standins/env"
fi

storage=$demo/storage
export QUEL_STORAGE=$storage_backend
export QUEL_STORAGE_DIR=$storage
export QUEL_STORAGE_BUCKET=images
export QUEL_GENERATOR=$generator_backend
# The worker's HTTP endpoint serves the dashboard (docs/OPERATIONS.md,
# "Dashboard") while the jobs run; QUEL_DEMO_HTTP_ADDR picks another address.
export QUEL_HTTP_ADDR=${QUEL_DEMO_HTTP_ADDR:-127.0.0.1:9464}
# A fresh admin token for the dashboard's actions (re-enqueue, retry, ...).
QUEL_HTTP_ADMIN_TOKEN=demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export QUEL_HTTP_ADMIN_TOKEN
echo "storage: $QUEL_STORAGE, generator: $QUEL_GENERATOR"

# Puts a local file into the bucket under KEY, on disk or through the
# Supabase Storage REST API (the same upload the web app does).
put_input() {
  local file=$1 key=$2
  if [ "$QUEL_STORAGE" = local ]; then
    mkdir -p "$(dirname "$storage/images/$key")"
    cp "$file" "$storage/images/$key"
  else
    local auth=(-H "apikey: $QUEL_SUPABASE_KEY")
    case "$QUEL_SUPABASE_KEY" in
      sb_secret_*) ;;
      *) auth+=(-H "Authorization: Bearer $QUEL_SUPABASE_KEY") ;;
    esac
    curl -fsS -X POST "${auth[@]}" -H "x-upsert: true" \
      -H "Content-Type: $(file -b --mime-type "$file")" --data-binary "@$file" \
      "${QUEL_SUPABASE_URL%/}/storage/v1/object/images/$key" >/dev/null
  fi
}

# Copies the bucket object KEY to a local file (for the contact sheet).
get_output() {
  local key=$1 out=$2
  mkdir -p "$(dirname "$out")"
  if [ "$QUEL_STORAGE" = local ]; then
    cp "$storage/images/$key" "$out"
  else
    local auth=(-H "apikey: $QUEL_SUPABASE_KEY")
    case "$QUEL_SUPABASE_KEY" in
      sb_secret_*) ;;
      *) auth+=(-H "Authorization: Bearer $QUEL_SUPABASE_KEY") ;;
    esac
    curl -fsS "${auth[@]}" -o "$out" \
      "${QUEL_SUPABASE_URL%/}/storage/v1/object/images/$key"
  fi
}
# These are the worker's only settings here; keep the caller's out.
unset QUEL_CREDITS_PER_IMAGE QUEL_NODE_ID QUEL_OUTPUT_FORMAT || true

psql_q() { psql "$QUEL_DATABASE_URL" -v ON_ERROR_STOP=1 -q "$@"; }

say "Applying the production schema and the worker's migrations"
psql_q -f scripts/sql/production_schema.sql
"$bin" migrate

say "Making sample input images"
samples=$demo/samples
scripts/make-sample-images.sh "$samples"
for f in model.png top.jpg bottom.webp shoes.png background.jpg; do
  put_input "$samples/$f" "inputs/atelier/$f"
done
put_input "$samples/bag.jpg" "inputs/legacy/bag.jpg"
for f in product.png face.webp; do
  put_input "$samples/$f" "inputs/tiny/$f"
done

size_of() { stat -c %s "$1"; }

say "Seeding organisations, productions, attach rows and jobs"
psql_q \
  -v model_size="$(size_of "$samples/model.png")" \
  -v top_size="$(size_of "$samples/top.jpg")" \
  -v bottom_size="$(size_of "$samples/bottom.webp")" \
  -v shoes_size="$(size_of "$samples/shoes.png")" \
  -v bag_size="$(size_of "$samples/bag.jpg")" \
  -v background_size="$(size_of "$samples/background.jpg")" \
  -v product_size="$(size_of "$samples/product.png")" \
  -v face_size="$(size_of "$samples/face.webp")" \
  -f scripts/sql/demo_seed.sql

jobs=(bbbbbbbb-0000-4000-8000-000000000001 bbbbbbbb-0000-4000-8000-000000000002
      bbbbbbbb-0000-4000-8000-000000000003 bbbbbbbb-0000-4000-8000-000000000004)

say "Enqueueing ${#jobs[@]} jobs (each onto its module's queue)"
"$bin" enqueue "${jobs[@]}"
"$bin" status || true

say "Running the worker until the queues are empty"
timeout 600 "$bin" run --drain 2> "$demo/worker.log" || {
  rc=$?
  echo "worker exited with $rc; last log lines:" >&2
  tail -n 40 "$demo/worker.log" >&2
  exit "$rc"
}
echo "worker log: $demo/worker.log ($(wc -l < "$demo/worker.log") lines)"

say "Jobs"
psql "$QUEL_DATABASE_URL" -v ON_ERROR_STOP=1 -P pager=off <<'SQL'
SELECT '…' || right(j.job_id::text, 12) AS job,
       coalesce(j.job_input_data->>'module', 'fashion') AS module,
       j.job_type,
       j.job_status AS status,
       j.completed_images AS made,
       j.failed_images AS failed,
       j.total_images AS total,
       coalesce((SELECT -sum(c.amount) FROM quel_credit_log c
                 WHERE c.job_id = j.job_id), 0) AS credits,
       p.production_status AS production,
       coalesce(j.error_message, '') AS error
FROM quel_production_jobs j
LEFT JOIN quel_production_photo p ON p.production_id = j.production_id
ORDER BY j.job_id;

SELECT o.org_name AS organisation, o.org_credit AS balance,
       (SELECT count(*) FROM quel_credit_log c WHERE c.org_id = o.org_id) AS charges
FROM quel_organization o ORDER BY o.org_name;
SQL

say "Generated images (bucket \"images\" of the $QUEL_STORAGE storage)"
mapfile -t keys < <(psql "$QUEL_DATABASE_URL" -At -c \
  "SELECT a.attach_file_path FROM quel_production_jobs j,
          jsonb_array_elements_text(j.generated_attach_ids) g(id)
     JOIN quel_attach a ON a.attach_id = g.id::bigint ORDER BY 1")
outputs=()
for key in "${keys[@]}"; do
  echo "  $key"
  if [ "$QUEL_STORAGE" = local ]; then
    outputs+=("$storage/images/$key")
  else
    get_output "$key" "$demo/outputs/$key"
    outputs+=("$demo/outputs/$key")
  fi
done
[ "$QUEL_STORAGE" = local ] && echo "directory: $storage/images"

if [ "${#outputs[@]}" -gt 0 ]; then
  say "Contact sheet"
  scripts/contact-sheet.sh "$demo/contact-sheet.png" "${outputs[@]}"
  echo "contact sheet: $demo/contact-sheet.png"
fi

dashboard=http://$QUEL_HTTP_ADDR/
if [ -t 0 ] && [ -t 1 ]; then
  # In a terminal: a worker keeps serving the dashboard until Enter.
  say "Dashboard"
  "$bin" run 2>> "$demo/worker.log" &
  dashboard_pid=$!
  echo "dashboard: $dashboard  (admin token for its actions: $QUEL_HTTP_ADMIN_TOKEN)"
  read -r -p "Press Enter to stop the worker and the servers. " _ || true
  kill -TERM "$dashboard_pid" 2>/dev/null || true
  wait "$dashboard_pid" 2>/dev/null || true
  say "Done; stopping the servers"
else
  say "Done; stopping the servers"
  echo "dashboard: $dashboard (served while the worker ran; run scripts/demo.sh in a terminal to keep it open)"
fi
