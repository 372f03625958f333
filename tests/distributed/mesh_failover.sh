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
cluster_tag=qm$$ cluster_net=10.231.77 cluster_hosts="a b"
# shellcheck source=lib/cluster.sh
. "$(dirname "$0")/lib/cluster.sh"
export QUEL_MESH_INSECURE=true

claimed_by_a_after() { claimed_by_after mesh-a "$@"; }
a_claimed() { [ -n "$(claimed_by_a_after "$t0" "$held")" ]; }

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
ip -n "$ns_b" link set "${cluster_tag}b" down
echo "partition of worker b at $t0; it held: $held"
wait_for 10 "worker a to claim b's jobs after the partition" a_claimed
part_ms=$(claimed_by_a_after "$t0" "$held")
part_seen=$(noticed_after "$t0" "$work/worker-a-1.log")
echo "RESULT partition: noticed after ${part_seen} ms; jobs of the cut-off worker claimed again after ${part_ms} ms (target <= 3000)"
[ "$part_ms" -le 3000 ] || fail "partition takeover took ${part_ms} ms (> 3000)"
sleep 2
ip -n "$ns_b" link set "${cluster_tag}b" up
echo "link of worker b restored"
wait_for 60 "worker b to have its late writes refused" grep -q 'ease lost' "$log_b"
echo "worker b after the partition: $(grep -c 'ease lost' "$log_b") refused writes logged"
check_census "partition"

kill -TERM "$pid_a" "$pid_b" 2>/dev/null || true
wait "$pid_a" "$pid_b" 2>/dev/null || true
echo "PASSED: sigkill noticed ${kill_seen} ms, jobs running again ${kill_ms} ms;" \
     "partition noticed ${part_seen} ms, jobs running again ${part_ms} ms"
