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
script_start=$(date +%s%3N)
# Hosts a, b (workers) and g1, g2 (generator nodes): 10.231.78.11 to .14.
cluster_tag=qg$$ cluster_net=10.231.78 cluster_hosts="a b g1 g2"
# shellcheck source=lib/cluster.sh
. "$(dirname "$0")/lib/cluster.sh"
# Generator nodes listen on namespace addresses, not loopback, in plain mode.
export QUEL_MESH_INSECURE=true QUEL_MESH_RETRY_INTERVAL=0.5

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
ip -n "$ns_g2" link set "${cluster_tag}g2" down
echo "partition of generator node g2 at $t0"
for w in a b; do
  wait_for 10 "worker $w to notice g2 lost" at_least_in 'Generator node lost' 2 "$work/worker-$w.log"
done
part_a=$(seen_after "$t0" 'Generator node lost' "$work/worker-a.log")
part_b=$(seen_after "$t0" 'Generator node lost' "$work/worker-b.log")
moved=$(grep -h 'Generator node lost' "$work"/worker-*.log | grep 'gen-g2' | grep -o 'in_flight=[0-9]*' | paste -sd' ' -)
echo "RESULT generator partition: noticed by worker a after ${part_a} ms, by worker b after ${part_b} ms; calls sent to g1: $moved"
sleep 1
ip -n "$ns_g2" link set "${cluster_tag}g2" up
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
