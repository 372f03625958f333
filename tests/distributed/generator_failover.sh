#!/usr/bin/env bash
# Generator nodes across network namespaces (docs/DISTRIBUTED.md).
#
#   tests/distributed/generator_failover.sh QUEL_WORKER_BINARY
#
# The cluster is built like mesh_failover.sh's: namespace "db" (Redis,
# PostgreSQL) with a bridge, one namespace per host joined to it by a veth
# pair (10.231.78.0/24): two workers (a, b) and two generator nodes (g1, g2,
# `quel-worker serve-generator`, slow local generator, capacity 4 each). The
# workers send every model call to the generator nodes (mesh.generators,
# fallback wait). Every process and every connection runs inside a namespace
# (ip netns exec); nothing connects to a namespace address from the root
# namespace. Everything is deleted on exit, also on failure. Scenarios:
#   1. 40 jobs; image work lands on both generator nodes; g1 is SIGKILLed
#      mid-run: its calls go to g2 at once; g1 restarts and is used again;
#   2. 40 more jobs; g2 is partitioned (link down) mid-run and restored.
# After each: every job finished, no image made twice, credits exact,
# storage objects = images, nothing left in a processing list or
# `processing`. Exit 77 (skipped) only when namespaces cannot be created.
set -euo pipefail

bin=${1:?usage: generator_failover.sh QUEL_WORKER_BINARY}
bin=$(readlink -f "$bin")
root=$(cd "$(dirname "$0")/../.." && pwd)

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
command -v redis-server >/dev/null || fail "redis-server not found"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pg_bin" ] || fail "PostgreSQL server binaries not found"

script_start=$(date +%s%3N)
tag=qg$$                      # short: interface names have at most 15 characters
ns_db=${tag}db ns_a=${tag}a ns_b=${tag}b ns_g1=${tag}g1 ns_g2=${tag}g2
net=10.231.78
ip_db=$net.1 ip_a=$net.11 ip_b=$net.12 ip_g1=$net.21 ip_g2=$net.22
hosts="a b g1 g2"
work=$(mktemp -d "${TMPDIR:-/tmp}/quel-gen.XXXXXX")
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
  for ns in "$ns_a" "$ns_b" "$ns_g1" "$ns_g2" "$ns_db"; do ip netns del "$ns" 2>/dev/null; done
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
ip -n "$ns_db" link add br0 type bridge
ip -n "$ns_db" addr add "$ip_db/24" dev br0
ip -n "$ns_db" link set lo up
ip -n "$ns_db" link set br0 up
for host in $hosts; do
  ns_var=ns_$host ip_var=ip_$host
  ns=${!ns_var}
  ip netns add "$ns"
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
export QUEL_WORKER_MAX_JOBS=32 QUEL_MAX_INFLIGHT_IMAGES=64
export QUEL_RETRY_BASE_MS=100 QUEL_RETRY_CAP_MS=1000
export QUEL_MESH_INSECURE=true
export QUEL_MESH_HEARTBEAT_INTERVAL=0.25 QUEL_MESH_CONNECTION_TIMEOUT=1.5
export QUEL_MESH_RETRY_INTERVAL=0.5
unset QUEL_CONFIG QUEL_NODE_ID QUEL_MESH_LISTEN QUEL_MESH_GENERATORS || true

sql -f "$root/scripts/sql/production_schema.sql" >/dev/null
ip netns exec "$ns_a" "$bin" migrate >"$work/migrate.txt" 2>&1 || fail "migrate failed"

# One small input image (a valid 8x8 PNG) for every job.
mkdir -p "$storage/images/inputs"
python3 - "$storage/images/inputs/gen.png" <<'PY'
import struct, sys, zlib
w = h = 8
rows = b"".join(b"\x00" + b"".join(bytes([x * 30, y * 30, 128]) for x in range(w)) for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PY
input_size=$(stat -c %s "$storage/images/inputs/gen.png")
input_id=$(sql -c "INSERT INTO quel_attach (attach_file_path, attach_file_type, attach_file_size)
                   VALUES ('inputs/gen.png', 'image/png', $input_size) RETURNING attach_id")
start_credit=1000000
org=$(sql -c "INSERT INTO quel_organization (org_name, org_credit)
              VALUES ('gen-org', $start_credit) RETURNING org_id")

quantity=2
# Adds N jobs of `quantity` images each (one statement) and pushes them.
add_jobs() {
  local n=$1 ids
  ids=$(sql -c "WITH p AS (INSERT INTO quel_production_photo (org_id, attach_ids)
                           SELECT '$org', '[1]'::jsonb FROM generate_series(1, $n)
                           RETURNING production_id)
                INSERT INTO quel_production_jobs (production_id, org_id, job_type, job_input_data)
                SELECT production_id, '$org', 'single_batch',
                       '{\"prompt\": \"generator node job\", \"quantity\": $quantity,
                         \"individualImageAttachIds\": [{\"attachId\": $input_id, \"type\": \"model\"}],
                         \"aspectRatio\": \"1:1\"}'::jsonb FROM p RETURNING job_id")
  # shellcheck disable=SC2086  # one id per word
  rcli LPUSH jobs:queue $ids >/dev/null
}

# start_generator HOST: a generator node (slow local model, 4 calls at once).
starts=0
start_generator() {
  local host=$1 ns_var=ns_$1 ip_var=ip_$1
  starts=$((starts + 1))
  local log=$work/generator-$host-$starts.log
  QUEL_NODE_ID=gen-$host QUEL_MESH_LISTEN=${!ip_var}:7500 \
    QUEL_GENERATOR_LOCAL_LATENCY_MS=1500 QUEL_GENERATOR_THREADS=4 \
    ip netns exec "${!ns_var}" "$bin" serve-generator >"$log" 2>&1 &
  gen_pid=$!
  pids+=("$gen_pid")
  gen_log=$log
  echo "started generator node $host (pid $gen_pid, log $log)"
}

start_worker() {
  local host=$1 ns_var=ns_$1
  local log=$work/worker-$host.log
  QUEL_NODE_ID=worker-$host QUEL_GENERATOR_THREADS=1 \
    QUEL_MESH_GENERATORS=$ip_g1:7500,$ip_g2:7500 QUEL_MESH_GENERATOR_FALLBACK=wait \
    ip netns exec "${!ns_var}" "$bin" run >"$log" 2>&1 &
  worker_pid=$!
  pids+=("$worker_pid")
  echo "started worker $host (pid $worker_pid, log $log)"
}

now_ms() { date +%s%3N; }

wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(now_ms) + seconds * 1000 ))
  until "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.05
  done
}

served() { grep -c 'Generated an image for a worker' "$@" 2>/dev/null | awk -F: '{s += $NF} END {print s + 0}'; }
serves_at_least() { [ "$(served "$1")" -ge "$2" ]; }
images_committed() { sql -c "SELECT count(*) FROM quel_worker_image"; }
committed_at_least() { [ "$(images_committed)" -ge "$1" ]; }
count_in() { grep -c "$1" "$2" 2>/dev/null || true; }
at_least_in() { [ "$(count_in "$1" "$3")" -ge "$2" ]; }

# Milliseconds from T0 until the first line matching PATTERN in LOG after T0.
seen_after() {
  local t0=$1 pattern=$2 log=$3 line ts ms
  while read -r line; do
    ts=${line%% *}
    ms=$(date -d "$ts" +%s%3N 2>/dev/null) || continue
    if [ "$ms" -ge "$t0" ]; then echo $((ms - t0)); return; fi
  done < <(grep "$pattern" "$log")
  echo "?"
}

all_finished() {
  [ "$(sql -c "SELECT count(*) FROM quel_production_jobs
               WHERE job_status NOT IN ('completed', 'failed')")" = 0 ]
}

check_census() {
  local scenario=$1
  wait_for 90 "every job finished ($scenario)" all_finished
  local total images dup bad credit logs objects stuck processing_jobs
  total=$(sql -c "SELECT count(*) FROM quel_production_jobs")
  images=$(images_committed)
  dup=$(sql -c "SELECT count(*) FROM (SELECT 1 FROM quel_worker_image
                 GROUP BY job_id, stage_index, image_index HAVING count(*) > 1) d")
  bad=$(sql -c "SELECT count(*) FROM quel_production_jobs j
                 WHERE j.job_status <> 'completed' OR j.completed_images <> $quantity
                    OR jsonb_array_length(j.generated_attach_ids) <> $quantity
                    OR (SELECT count(*) FROM quel_worker_image i WHERE i.job_id = j.job_id) <> $quantity")
  processing_jobs=$(sql -c "SELECT count(*) FROM quel_production_jobs WHERE job_status = 'processing'")
  credit=$(sql -c "SELECT org_credit FROM quel_organization WHERE org_id = '$org'")
  logs=$(sql -c "SELECT count(*) FROM quel_credit_log WHERE org_id = '$org'")
  objects=$(find "$storage/images" -type f -not -path '*/inputs/*' | wc -l)
  stuck=0
  for key in $(rcli --scan --pattern 'quel:processing:*'); do
    stuck=$((stuck + $(rcli LLEN "$key")))
  done
  echo "census after $scenario: jobs=$total images=$images duplicates=$dup wrong_jobs=$bad" \
       "processing=$processing_jobs credit=$credit (expected $((start_credit - images)))" \
       "credit_log=$logs objects=$objects processing_ids=$stuck queued=$(rcli LLEN jobs:queue)"
  [ "$dup" = 0 ] || fail "$scenario: an image was made twice"
  [ "$bad" = 0 ] || fail "$scenario: $bad jobs not completed with exactly $quantity images"
  [ "$processing_jobs" = 0 ] || fail "$scenario: $processing_jobs jobs stuck processing"
  [ "$images" = $((total * quantity)) ] || fail "$scenario: $images images for $total jobs"
  [ "$credit" = $((start_credit - images)) ] || fail "$scenario: credits are not exact"
  [ "$logs" = "$images" ] || fail "$scenario: $logs credit log rows for $images images"
  [ "$objects" = "$images" ] || fail "$scenario: $objects storage objects for $images images"
  [ "$stuck" = 0 ] || fail "$scenario: $stuck ids left in processing lists"
}

# ---- scenario 1: both generator nodes serve; g1 is SIGKILLed mid-run
start_generator g1; pid_g1=$gen_pid; log_g1=$gen_log
start_generator g2; pid_g2=$gen_pid; log_g2=$gen_log
wait_for 30 "generator node g1 to publish" at_least_in 'Generator node published' 1 "$log_g1"
wait_for 30 "generator node g2 to publish" at_least_in 'Generator node published' 1 "$log_g2"
start_worker a; pid_a=$worker_pid
start_worker b; pid_b=$worker_pid
for w in a b; do
  wait_for 30 "worker $w to greet both generator nodes" \
    at_least_in 'Generator node up' 2 "$work/worker-$w.log"
done
phase_start=$(now_ms)
add_jobs 40
wait_for 60 "g1 to serve images" serves_at_least "$log_g1" 4
wait_for 60 "g2 to serve images" serves_at_least "$log_g2" 4
wait_for 60 "20 images committed" committed_at_least 20
t0=$(now_ms)
kill -9 "$pid_g1"
echo "SIGKILL of generator node g1 at $t0 (g1 had served $(served "$log_g1"), g2 $(served "$log_g2"))"
for w in a b; do
  wait_for 10 "worker $w to notice g1 lost" at_least_in 'Generator node lost' 1 "$work/worker-$w.log"
done
kill_a=$(seen_after "$t0" 'Generator node lost' "$work/worker-a.log")
kill_b=$(seen_after "$t0" 'Generator node lost' "$work/worker-b.log")
moved=$(grep -h 'Generator node lost' "$work"/worker-*.log | grep -o 'in_flight=[0-9]*' | paste -sd' ' -)
echo "RESULT generator sigkill: noticed by worker a after ${kill_a} ms, by worker b after ${kill_b} ms; calls sent to g2 at once: $moved"
# g1 comes back at its address: the workers use it again.
start_generator g1; pid_g1=$gen_pid; log_g1b=$gen_log
for w in a b; do
  wait_for 30 "worker $w to greet the restarted g1" at_least_in 'Generator node up' 3 "$work/worker-$w.log"
done
check_census "generator sigkill"
phase1_ms=$(( $(now_ms) - phase_start ))
echo "RESULT phase 1: 40 jobs in ${phase1_ms} ms; images served: g1 $(served "$log_g1") before the kill" \
     "+ $(served "$log_g1b") after its restart, g2 $(served "$log_g2")"
[ "$(served "$log_g1")" -gt 0 ] && [ "$(served "$log_g2")" -gt 0 ] \
  || fail "image work did not land on both generator nodes"

# ---- scenario 2: g2 is partitioned mid-run and restored
phase_start=$(now_ms)
base_g1=$(served "$log_g1b") base_g2=$(served "$log_g2")
before=$(images_committed)
add_jobs 40
wait_for 60 "g1 (restarted) to serve images" serves_at_least "$log_g1b" $((base_g1 + 4))
wait_for 60 "g2 to serve images" serves_at_least "$log_g2" $((base_g2 + 4))
wait_for 60 "20 more images committed" committed_at_least $((before + 20))
t0=$(now_ms)
ip -n "$ns_g2" link set "${tag}g2" down
echo "partition of generator node g2 at $t0"
for w in a b; do
  wait_for 10 "worker $w to notice g2 lost" at_least_in 'Generator node lost' 2 "$work/worker-$w.log"
done
part_a=$(seen_after "$t0" 'Generator node lost' "$work/worker-a.log")
part_b=$(seen_after "$t0" 'Generator node lost' "$work/worker-b.log")
moved=$(grep -h 'Generator node lost' "$work"/worker-*.log | grep 'gen-g2' | grep -o 'in_flight=[0-9]*' | paste -sd' ' -)
echo "RESULT generator partition: noticed by worker a after ${part_a} ms, by worker b after ${part_b} ms; calls sent to g1: $moved"
sleep 1
ip -n "$ns_g2" link set "${tag}g2" up
t1=$(now_ms)
echo "link of generator node g2 restored at $t1"
for w in a b; do
  wait_for 30 "worker $w to greet g2 again" at_least_in 'Generator node up' 4 "$work/worker-$w.log"
done
back_a=$(seen_after "$t1" 'Generator node up' "$work/worker-a.log")
echo "RESULT generator partition: g2 used again by worker a ${back_a} ms after the link came back"
check_census "generator partition"
phase2_ms=$(( $(now_ms) - phase_start ))
echo "RESULT phase 2: 40 jobs in ${phase2_ms} ms; images served: g1 $(( $(served "$log_g1b") - base_g1 )), g2 $(( $(served "$log_g2") - base_g2 ))"

kill -TERM "$pid_a" "$pid_b" "$pid_g1" "$pid_g2" 2>/dev/null || true
wait "$pid_a" "$pid_b" "$pid_g1" "$pid_g2" 2>/dev/null || true
echo "PASSED in $(( $(now_ms) - script_start )) ms: generator sigkill noticed ${kill_a}/${kill_b} ms;" \
     "partition noticed ${part_a}/${part_b} ms"
