# Shared by the tests in tests/distributed/ (sourced, not run): a cluster of
# network namespaces the test owns, with Redis and PostgreSQL in namespace
# "db" behind a bridge and one namespace per worker host joined to it by a
# veth pair. Every process and every connection runs inside a namespace
# (ip netns exec); nothing connects to a namespace address from the root
# namespace (caf-0.17.md section 4). Everything is deleted on exit, also on
# failure.
#
# Before sourcing, set:
#   bin            the quel-worker binary (absolute path)
#   cluster_tag    a short unique prefix, e.g. qm$$ (interface names have
#                  at most 15 characters)
#   cluster_net    the /24 of the test, e.g. 10.231.77 (one per test file,
#                  so two tests never share addresses)
#   cluster_hosts  the worker hosts, e.g. "a b": namespace $ns_<host>,
#                  address $ip_<host> = $cluster_net.(11, 12, ...)
# After sourcing: $work (a temporary directory), $redis_url, $db_url, the
# QUEL_* environment of a worker, and the helpers below.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
command -v redis-server >/dev/null || fail "redis-server not found"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pg_bin" ] || fail "PostgreSQL server binaries not found"

ns_db=${cluster_tag}db
ip_db=$cluster_net.1
cluster_index=11
for host in $cluster_hosts; do
  printf -v "ns_$host" '%s' "${cluster_tag}$host"
  printf -v "ip_$host" '%s' "$cluster_net.$cluster_index"
  cluster_index=$((cluster_index + 1))
done
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
  local host ns_var
  for host in $cluster_hosts; do
    ns_var=ns_$host
    ip netns del "${!ns_var}" 2>/dev/null
  done
  ip netns del "$ns_db" 2>/dev/null
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
for host in $cluster_hosts; do
  ns_var=ns_$host ip_var=ip_$host
  ns=${!ns_var}
  ip netns add "$ns"
  ip link add "${cluster_tag}$host" type veth peer name "${cluster_tag}${host}p"
  ip link set "${cluster_tag}$host" netns "$ns"
  ip link set "${cluster_tag}${host}p" netns "$ns_db"
  ip -n "$ns_db" link set "${cluster_tag}${host}p" master br0 up
  ip -n "$ns" addr add "${!ip_var}/24" dev "${cluster_tag}$host"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "${cluster_tag}$host" up
done
in_db() { ip netns exec "$ns_db" "$@"; }

# ---- services in the db namespace
in_db redis-server --bind "$ip_db" --port 6379 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis-server.log" --protected-mode no
mkdir -p "$work/pg" && chown postgres: "$work/pg" && chmod 700 "$work/pg"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg/data" -U postgres -A trust --no-sync \
  -E UTF8 >"$work/initdb.txt" 2>&1
echo "host all all $cluster_net.0/24 trust" >>"$work/pg/data/pg_hba.conf"
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
export QUEL_MESH_GRACE=0.25
export QUEL_MESH_HEARTBEAT_INTERVAL=0.25 QUEL_MESH_CONNECTION_TIMEOUT=1.5
unset QUEL_CONFIG QUEL_NODE_ID QUEL_MESH_LISTEN QUEL_MESH_INSECURE QUEL_MESH_TLS_CERTIFICATE \
  QUEL_MESH_TLS_KEY QUEL_MESH_TLS_CA QUEL_MESH_TLS_KEY_PASSPHRASE || true

sql -f "$root/scripts/sql/production_schema.sql" >/dev/null
first_host=${cluster_hosts%% *}
first_ns_var=ns_$first_host
ip netns exec "${!first_ns_var}" "$bin" migrate >"$work/migrate.txt" 2>&1 || fail "migrate failed"

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

# start_worker HOST [VAR=value...] -> pid in $worker_pid; log in
# $work/worker-HOST-N.log (N counts every start); node id mesh-HOST,
# mesh.listen on the host's address, port 7400. The extra variables go to
# the worker's environment.
starts=0
start_worker() {
  local host=$1 ns_var=ns_$1 ip_var=ip_$1
  shift
  starts=$((starts + 1))
  local log=$work/worker-$host-$starts.log
  ip netns exec "${!ns_var}" env QUEL_NODE_ID="mesh-$host" QUEL_MESH_LISTEN="${!ip_var}:7400" \
    "$@" "$bin" run >"$log" 2>&1 &
  worker_pid=$!
  worker_log=$log
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

# Milliseconds from T0 (unix ms) until the last of JOBS (comma-separated
# ids) was claimed by node TAKER; empty while some are not claimed by it yet.
claimed_by_after() {
  local taker=$1 t0=$2 list=$3
  sql -c "SELECT CASE WHEN count(*) FILTER (WHERE owner_node <> '$taker') = 0
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

all_finished() {
  [ "$(sql -c "SELECT count(*) FROM quel_production_jobs
               WHERE job_status NOT IN ('completed', 'failed')")" = 0 ]
}

# Waits until every job is finished, then checks the census: no image made
# twice, every job completed with its images, credits exact, storage
# objects = images, nothing left in a processing list.
check_census() {
  local scenario=$1
  wait_for 90 "every job finished ($scenario)" all_finished
  local total images dup bad credit logs objects stuck processing_jobs
  total=$(sql -c "SELECT count(*) FROM quel_production_jobs")
  images=$(sql -c "SELECT count(*) FROM quel_worker_image")
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
