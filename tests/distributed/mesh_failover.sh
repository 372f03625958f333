#!/usr/bin/env bash
# Worker mesh failover across network namespaces (docs/DISTRIBUTED.md).
#
#   tests/distributed/mesh_failover.sh QUEL_WORKER_BINARY
#
# Builds a small cluster the test owns: namespace "db" (Redis, PostgreSQL)
# with a bridge, and one namespace per worker host joined to it by a veth
# pair (10.231.77.0/24). Every process and every connection runs inside a
# namespace (ip netns exec); nothing here connects to a namespace address
# from the root namespace (caf-0.17.md section 4). Everything is deleted on
# exit, also on failure. Scenarios, each bounded in time:
#   1. two workers with a slow local generator; worker B is SIGKILLed mid-run:
#      worker A must claim every job B held within 1 s (measured, printed);
#   2. B (restarted) is partitioned (its link set down): A must claim B's jobs
#      within 3 s; the link comes back and B's late writes are refused.
# After each: every job completed, no image made twice, credits exact,
# storage objects = images, nothing left in a processing list.
# Exit 77 (skipped) only when namespaces cannot be created.
set -euo pipefail

bin=${1:?usage: mesh_failover.sh QUEL_WORKER_BINARY}
bin=$(readlink -f "$bin")
root=$(cd "$(dirname "$0")/../.." && pwd)

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
command -v redis-server >/dev/null || fail "redis-server not found"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pg_bin" ] || fail "PostgreSQL server binaries not found"

tag=qm$$                      # short: interface names have at most 15 characters
ns_db=${tag}db ns_a=${tag}a ns_b=${tag}b
net=10.231.77
ip_db=$net.1 ip_a=$net.11 ip_b=$net.12
work=$(mktemp -d "${TMPDIR:-/tmp}/quel-mesh.XXXXXX")
chmod 755 "$work"
pids=()

cleanup() {
  local status=$?
  set +e
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    ip netns exec "$ns_db" runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" \
      -m immediate -w stop >/dev/null 2>&1
  fi
  [ -f "$work/redis.pid" ] && kill -9 "$(cat "$work/redis.pid")" 2>/dev/null
  for ns in "$ns_a" "$ns_b" "$ns_db"; do ip netns del "$ns" 2>/dev/null; done
  if [ "$status" != 0 ] && [ "$status" != 77 ]; then
    for f in "$work"/*.log; do
      [ -f "$f" ] || continue
      echo "---- last lines of $f"; tail -n 40 "$f"
    done
  fi
  if [ -z "${QUEL_MESH_KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns_db" 2>/dev/null || skip "cannot create network namespaces here"
ip netns add "$ns_a"
ip netns add "$ns_b"
ip -n "$ns_db" link add br0 type bridge
ip -n "$ns_db" addr add "$ip_db/24" dev br0
ip -n "$ns_db" link set lo up
ip -n "$ns_db" link set br0 up
for host in a b; do
  ns_var=ns_$host ip_var=ip_$host
  ns=${!ns_var}
  ip link add "${tag}$host" type veth peer name "${tag}${host}p"
  ip link set "${tag}$host" netns "$ns"
  ip link set "${tag}${host}p" netns "$ns_db"
  ip -n "$ns_db" link set "${tag}${host}p" master br0 up
  ip -n "$ns" addr add "${!ip_var}/24" dev "${tag}$host"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "${tag}$host" up
done
in_db() { ip netns exec "$ns_db" "$@"; }

# ---- services in the db namespace
in_db redis-server --bind "$ip_db" --port 6379 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis-server.log" --protected-mode no
mkdir -p "$work/pg" && chown postgres: "$work/pg" && chmod 700 "$work/pg"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg/data" -U postgres -A trust --no-sync \
  -E UTF8 >"$work/initdb.txt" 2>&1
echo "host all all $net.0/24 trust" >>"$work/pg/data/pg_hba.conf"
in_db runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.txt" -w \
  -o "-c listen_addresses=$ip_db -p 5432 -k $work/pg -c fsync=off -c max_connections=200" \
  start >/dev/null
redis_url=redis://$ip_db:6379/0
db_url=postgresql://postgres@$ip_db:5432/postgres
sql() { in_db psql "$db_url" -v ON_ERROR_STOP=1 -qAtX "$@"; }
rcli() { in_db redis-cli -h "$ip_db" -p 6379 "$@"; }
for _ in $(seq 50); do rcli ping >/dev/null 2>&1 && break; sleep 0.1; done

storage=$work/storage
export QUEL_REDIS_URL=$redis_url QUEL_DATABASE_URL=$db_url
export QUEL_STORAGE=local QUEL_STORAGE_DIR=$storage QUEL_GENERATOR=local
export QUEL_HTTP_ADDR=off QUEL_CREDITS_PER_IMAGE=1
export QUEL_GENERATOR_LOCAL_LATENCY_MS=4000 QUEL_GENERATOR_THREADS=16
export QUEL_WORKER_MAX_JOBS=32 QUEL_MAX_INFLIGHT_IMAGES=64
export QUEL_RETRY_BASE_MS=100 QUEL_RETRY_CAP_MS=1000
export QUEL_MESH_INSECURE=true QUEL_MESH_GRACE=0.25
export QUEL_MESH_HEARTBEAT_INTERVAL=0.25 QUEL_MESH_CONNECTION_TIMEOUT=1.5
unset QUEL_CONFIG QUEL_NODE_ID QUEL_MESH_LISTEN || true

sql -f "$root/scripts/sql/production_schema.sql" >/dev/null
ip netns exec "$ns_a" "$bin" migrate >"$work/migrate.txt" 2>&1 || fail "migrate failed"

# One small input image (a valid 8x8 PNG) for every job.
mkdir -p "$storage/images/inputs"
python3 - "$storage/images/inputs/mesh.png" <<'PY'
import struct, sys, zlib
w = h = 8
rows = b"".join(b"\x00" + b"".join(bytes([x * 30, y * 30, 128]) for x in range(w)) for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PY
input_size=$(stat -c %s "$storage/images/inputs/mesh.png")
input_id=$(sql -c "INSERT INTO quel_attach (attach_file_path, attach_file_type, attach_file_size)
                   VALUES ('inputs/mesh.png', 'image/png', $input_size) RETURNING attach_id")
start_credit=1000000
org=$(sql -c "INSERT INTO quel_organization (org_name, org_credit)
              VALUES ('mesh-org', $start_credit) RETURNING org_id")

quantity=2
# Adds N jobs of `quantity` images each and pushes them onto jobs:queue.
add_jobs() {
  local n=$1 i id
  for i in $(seq "$n"); do
    id=$(sql -c "WITH p AS (INSERT INTO quel_production_photo (org_id, attach_ids)
                            VALUES ('$org', '[1]'::jsonb) RETURNING production_id)
                 INSERT INTO quel_production_jobs (production_id, org_id, job_type, job_input_data)
                 SELECT production_id, '$org', 'single_batch',
                        '{\"prompt\": \"mesh job $i\", \"quantity\": $quantity,
                          \"individualImageAttachIds\": [{\"attachId\": $input_id, \"type\": \"model\"}],
                          \"aspectRatio\": \"1:1\"}'::jsonb FROM p RETURNING job_id")
    rcli LPUSH jobs:queue "$id" >/dev/null
  done
}

# start_worker HOST -> pid in $worker_pid; log in $work/worker-HOST-N.log
starts=0
start_worker() {
  local host=$1 ns_var=ns_$1 ip_var=ip_$1
  starts=$((starts + 1))
  local log=$work/worker-$host-$starts.log
  QUEL_NODE_ID=mesh-$host QUEL_MESH_LISTEN=${!ip_var}:7400 \
    ip netns exec "${!ns_var}" "$bin" run >"$log" 2>&1 &
  worker_pid=$!
  pids+=("$worker_pid")
  echo "started worker $host (pid $worker_pid, log $log)"
}

now_ms() { date +%s%3N; }

# Waits until `cond` (a shell command) succeeds; fails after SECONDS.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(now_ms) + seconds * 1000 ))
  until "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.05
  done
}

live_jobs_of() {  # unfinished jobs under a live lease of node $1
  sql -c "SELECT w.job_id FROM quel_worker_job w JOIN quel_production_jobs j USING (job_id)
          WHERE w.owner_node = '$1' AND w.lease_expires_at > now()
            AND j.job_status NOT IN ('completed', 'failed') ORDER BY 1"
}
has_jobs() { [ -n "$(live_jobs_of "$1")" ]; }
mesh_up() { grep -q 'Mesh peer up' "$1"; }

# Milliseconds from T0 (unix ms) until the last of JOBS was claimed by mesh-a;
# empty while some are not claimed by mesh-a yet.
claimed_by_a_after() {
  local t0=$1 list=$2
  sql -c "SELECT CASE WHEN count(*) FILTER (WHERE owner_node <> 'mesh-a') = 0
                 THEN round(extract(epoch FROM max(claimed_at)) * 1000 - $t0)::bigint END
          FROM quel_worker_job WHERE job_id = ANY ('{$list}'::uuid[])"
}

# Milliseconds from T0 until LOG's first "Mesh peer lost" line after T0.
noticed_after() {
  local t0=$1 log=$2 line ts ms
  while read -r line; do
    ts=${line%% *}
    ms=$(date -d "$ts" +%s%3N 2>/dev/null) || continue
    if [ "$ms" -ge "$t0" ]; then echo $((ms - t0)); return; fi
  done < <(grep 'Mesh peer lost' "$log")
  echo "?"
}

a_claimed() { [ -n "$(claimed_by_a_after "$t0" "$held")" ]; }

# Waits until every job is finished, then checks the census.
check_census() {
  local scenario=$1
  wait_for 90 "every job finished ($scenario)" all_finished
  local total images dup bad credit logs objects stuck
  total=$(sql -c "SELECT count(*) FROM quel_production_jobs")
  images=$(sql -c "SELECT count(*) FROM quel_worker_image")
  dup=$(sql -c "SELECT count(*) FROM (SELECT 1 FROM quel_worker_image
                 GROUP BY job_id, stage_index, image_index HAVING count(*) > 1) d")
  bad=$(sql -c "SELECT count(*) FROM quel_production_jobs j
                 WHERE j.job_status <> 'completed' OR j.completed_images <> $quantity
                    OR jsonb_array_length(j.generated_attach_ids) <> $quantity
                    OR (SELECT count(*) FROM quel_worker_image i WHERE i.job_id = j.job_id) <> $quantity")
  credit=$(sql -c "SELECT org_credit FROM quel_organization WHERE org_id = '$org'")
  logs=$(sql -c "SELECT count(*) FROM quel_credit_log WHERE org_id = '$org'")
  objects=$(find "$storage/images" -type f -not -path '*/inputs/*' | wc -l)
  stuck=0
  for key in $(rcli --scan --pattern 'quel:processing:*'); do
    stuck=$((stuck + $(rcli LLEN "$key")))
  done
  echo "census after $scenario: jobs=$total images=$images duplicates=$dup wrong_jobs=$bad" \
       "credit=$credit (expected $((start_credit - images))) credit_log=$logs" \
       "objects=$objects processing_ids=$stuck queued=$(rcli LLEN jobs:queue)"
  [ "$dup" = 0 ] || fail "$scenario: an image was made twice"
  [ "$bad" = 0 ] || fail "$scenario: $bad jobs not completed with exactly $quantity images"
  [ "$images" = $((total * quantity)) ] || fail "$scenario: $images images for $total jobs"
  [ "$credit" = $((start_credit - images)) ] || fail "$scenario: credits are not exact"
  [ "$logs" = "$images" ] || fail "$scenario: $logs credit log rows for $images images"
  [ "$objects" = "$images" ] || fail "$scenario: $objects storage objects for $images images"
  [ "$stuck" = 0 ] || fail "$scenario: $stuck ids left in processing lists"
}
all_finished() {
  [ "$(sql -c "SELECT count(*) FROM quel_production_jobs
               WHERE job_status NOT IN ('completed', 'failed')")" = 0 ]
}

# ---- scenario 1: SIGKILL of a worker host
start_worker a; pid_a=$worker_pid
start_worker b; pid_b=$worker_pid
wait_for 30 "worker a to meet b in the mesh" mesh_up "$work/worker-a-1.log"
wait_for 30 "worker b to meet a in the mesh" mesh_up "$work/worker-b-2.log"
add_jobs 16
wait_for 30 "worker b to hold jobs" has_jobs mesh-b
wait_for 30 "worker a to hold jobs" has_jobs mesh-a
sleep 0.5
held=$(live_jobs_of mesh-b | paste -sd, -)
[ -n "$held" ] || fail "worker b finished its jobs before the fault (generator too fast?)"
t0=$(now_ms)
kill -9 "$pid_b"
echo "SIGKILL of worker b at $t0; it held: $held"
wait_for 10 "worker a to claim b's jobs after the SIGKILL" a_claimed
kill_ms=$(claimed_by_a_after "$t0" "$held")
kill_seen=$(noticed_after "$t0" "$work/worker-a-1.log")
echo "RESULT sigkill: noticed after ${kill_seen} ms; jobs of the killed worker claimed again after ${kill_ms} ms (target <= 1000)"
[ "$kill_ms" -le 1000 ] || fail "SIGKILL takeover took ${kill_ms} ms (> 1000)"
check_census "sigkill"

# ---- scenario 2: a partitioned worker host
start_worker b; pid_b=$worker_pid; log_b=$work/worker-b-$starts.log
wait_for 30 "worker b to rejoin the mesh" mesh_up "$log_b"
a_sees_b_again() { [ "$(grep -c 'Mesh peer up' "$work/worker-a-1.log")" -ge 2 ]; }
wait_for 30 "worker a to greet the restarted b" a_sees_b_again
add_jobs 16
wait_for 30 "worker b to hold jobs" has_jobs mesh-b
wait_for 30 "worker a to hold jobs" has_jobs mesh-a
sleep 0.5
held=$(live_jobs_of mesh-b | paste -sd, -)
[ -n "$held" ] || fail "worker b finished its jobs before the fault (generator too fast?)"
t0=$(now_ms)
ip -n "$ns_b" link set "${tag}b" down
echo "partition of worker b at $t0; it held: $held"
wait_for 10 "worker a to claim b's jobs after the partition" a_claimed
part_ms=$(claimed_by_a_after "$t0" "$held")
part_seen=$(noticed_after "$t0" "$work/worker-a-1.log")
echo "RESULT partition: noticed after ${part_seen} ms; jobs of the cut-off worker claimed again after ${part_ms} ms (target <= 3000)"
[ "$part_ms" -le 3000 ] || fail "partition takeover took ${part_ms} ms (> 3000)"
sleep 2
ip -n "$ns_b" link set "${tag}b" up
echo "link of worker b restored"
wait_for 60 "worker b to have its late writes refused" grep -q 'ease lost' "$log_b"
echo "worker b after the partition: $(grep -c 'ease lost' "$log_b") refused writes logged"
check_census "partition"

kill -TERM "$pid_a" "$pid_b" 2>/dev/null || true
wait "$pid_a" "$pid_b" 2>/dev/null || true
echo "PASSED: sigkill noticed ${kill_seen} ms, jobs running again ${kill_ms} ms;" \
     "partition noticed ${part_seen} ms, jobs running again ${part_ms} ms"
