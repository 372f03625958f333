#!/usr/bin/env bash
# The worker mesh with mutual TLS across network namespaces
# (docs/DISTRIBUTED.md "TLS").
#
#   tests/distributed/mesh_tls.sh QUEL_WORKER_BINARY
#
# The cluster of lib/cluster.sh on 10.231.78.0/24: Redis and PostgreSQL in
# namespace "db", worker hosts a and b (certificates of the test's CA; b's
# key encrypted, with its passphrase in the environment), 0r (a
# "rogue": a certificate of another CA, trusting only that one) and 0p (plain
# mode, mesh.insecure). A throwaway CA and node certificates are made with
# the openssl CLI (make_mesh_certs.sh). Only the node with the smaller id
# dials (mesh_dials), so 0r and 0p are the ones that connect to a and b.
# Scenarios, each bounded in time:
#   1. a and b meet over mutual TLS; the handshake is probed with
#      `openssl s_client` from inside a's namespace: with a's certificate it
#      completes (protocol and cipher printed); without a client
#      certificate, or with 0r's, b refuses it; b's certificate does not
#      verify against 0r's CA (the other direction);
#   2. 0r (untrusted CA) and 0p (plain) join Redis and dial a and b: every
#      connection is refused (logged "Cannot connect to mesh peer" by them),
#      none of them ever becomes a peer of a or b, `status --json` shows
#      them unreachable from their side and never up on a's; the link between
#      a and b never drops meanwhile; both stop;
#   3. jobs on a and b over TLS; b is SIGKILLed: a claims its jobs within 1 s;
#   4. generator nodes over TLS: `serve-generator` refuses a partial or
#      unusable TLS configuration like `run`; g (a certificate of the test's
#      CA) and gr (one of the other CA) run `serve-generator` with mutual
#      TLS; a restarts with mesh.generators = g, gr: its image work lands on g
#      (counted in g's log), gr never gets a call and a logs why ("Generator
#      node unreachable"), `status --json` shows g up with its capacity and
#      gr unreachable with the error.
# After 3 and 4: every job completed, no image made twice, credits exact,
# storage objects = images, nothing left in a processing list.
# Exit 77 (skipped) only when namespaces cannot be created.
set -euo pipefail

bin=${1:?usage: mesh_tls.sh QUEL_WORKER_BINARY}
bin=$(readlink -f "$bin")
command -v openssl >/dev/null || { echo "FAILED: the openssl CLI is not installed" >&2; exit 1; }
cluster_tag=qt$$ cluster_net=10.231.78 cluster_hosts="a b 0r 0p g gr"
# shellcheck source=lib/cluster.sh
. "$(dirname "$0")/lib/cluster.sh"

certs=$work/certs
"$root/tests/distributed/make_mesh_certs.sh" "$certs" ca a b g
"$root/tests/distributed/make_mesh_certs.sh" "$certs" other 0r gr
# b's key is encrypted: CAF gets its passphrase (openssl.passphrase) from
# QUEL_MESH_TLS_KEY_PASSPHRASE.
b_pass=mesh-b-key-$$-passphrase
openssl pkey -in "$certs/b.key" -aes256 -passout "pass:$b_pass" -out "$certs/b.enc.key"
tls_env() {  # tls_env NODE CA
  echo "QUEL_MESH_TLS_CERTIFICATE=$certs/$1.crt QUEL_MESH_TLS_KEY=$certs/$1.key" \
       "QUEL_MESH_TLS_CA=$certs/$2.crt"
}

peer_up_in() {  # peer_up_in LOG PEER: LOG greeted PEER
  grep 'Mesh peer up' "$1" | grep -q "peer=$2"
}
refused_in() {  # refused_in LOG PEER: LOG could not connect to PEER
  grep 'Cannot connect to mesh peer' "$1" | grep -q "peer=$2"
}

# ---- scenario 1: two nodes over mutual TLS
# shellcheck disable=SC2046
start_worker a $(tls_env a ca); pid_a=$worker_pid; log_a=$worker_log
# shellcheck disable=SC2046
start_worker b $(tls_env b ca) QUEL_MESH_TLS_KEY="$certs/b.enc.key" \
  QUEL_MESH_TLS_KEY_PASSPHRASE="$b_pass"; pid_b=$worker_pid; log_b=$worker_log
grep -q 'transport=mutual TLS' "$log_a" || sleep 1
wait_for 30 "worker a to meet b over TLS" peer_up_in "$log_a" mesh-b
wait_for 30 "worker b to meet a over TLS" peer_up_in "$log_b" mesh-a
grep -q 'transport=mutual TLS' "$log_a" || fail "worker a does not say it uses mutual TLS"
echo "RESULT tls: a and b are peers over mutual TLS"

# The handshake as a TLS client sees it, from inside a's namespace. stdin
# stays open a second: with TLS 1.3 the server judges the client's
# certificate after its own Finished, and its alert arrives after that.
probe=$(sleep 1 | ip netns exec "$ns_a" timeout 5 openssl s_client -connect "$ip_b:7400" \
          -cert "$certs/a.crt" -key "$certs/a.key" -CAfile "$certs/ca.crt" -brief \
          2>&1 | tr -d '\000' || true)
echo "$probe" | sed 's/^/  s_client with a certificate: /'
echo "$probe" | grep -q 'Verification: OK' || fail "b's certificate did not verify against the CA"
protocol=$(echo "$probe" | sed -n 's/^Protocol version: //p')
cipher=$(echo "$probe" | sed -n 's/^Ciphersuite: //p')
echo "RESULT tls: negotiated ${protocol:-?} ${cipher:-?}"
# Without a client certificate the server must end the handshake (TLS 1.3
# reports it as alert 116 "certificate required" after the client's
# Finished).
noclient=$(sleep 1 | ip netns exec "$ns_a" timeout 5 openssl s_client -connect "$ip_b:7400" \
             -CAfile "$certs/ca.crt" -brief 2>&1 | tr -d '\000' || true)
echo "$noclient" | sed 's/^/  s_client without a certificate: /'
echo "$noclient" | grep -qiE 'alert|certificate required|handshake failure' \
  || fail "b accepted a TLS client without a certificate"
echo "RESULT tls: a client without a certificate is refused by the server"
rogue=$(sleep 1 | ip netns exec "$ns_a" timeout 5 openssl s_client -connect "$ip_b:7400" \
          -cert "$certs/0r.crt" -key "$certs/0r.key" -CAfile "$certs/ca.crt" -brief \
          2>&1 | tr -d '\000' || true)
echo "$rogue" | sed 's/^/  s_client with the certificate of another CA: /'
echo "$rogue" | grep -qiE 'alert|handshake failure' \
  || fail "b accepted a TLS client whose certificate another CA signed"
other_ca=$(sleep 1 | ip netns exec "$ns_a" timeout 5 openssl s_client -connect "$ip_b:7400" \
             -cert "$certs/0r.crt" -key "$certs/0r.key" -CAfile "$certs/other.crt" \
             -verify_return_error -brief 2>&1 | tr -d '\000' || true)
echo "$other_ca" | sed 's/^/  s_client trusting only the other CA: /'
echo "$other_ca" | grep -qi 'certificate verify failed' \
  || fail "b's certificate verified against the other CA"
echo "RESULT tls: a certificate of another CA is refused, in both directions"

# ---- scenario 2: an untrusted node and a plain node dial a and b
# shellcheck disable=SC2046
start_worker 0r $(tls_env 0r other); pid_r=$worker_pid; log_r=$worker_log
start_worker 0p QUEL_MESH_INSECURE=true; pid_p=$worker_pid; log_p=$worker_log
for peer in mesh-a mesh-b; do
  wait_for 30 "the untrusted node to be refused by $peer" refused_in "$log_r" "$peer"
  wait_for 30 "the plain node to be refused by $peer" refused_in "$log_p" "$peer"
done
sleep 3  # several more attempts (retry interval 0.5 s)
for log in "$log_a" "$log_b"; do
  for peer in mesh-0r mesh-0p; do
    if peer_up_in "$log" "$peer"; then fail "$peer became a peer ($log)"; fi
  done
done
for log in "$log_r" "$log_p"; do
  if grep -q 'Mesh peer up' "$log"; then fail "$(grep 'Mesh peer up' "$log" | head -n 1)"; fi
done
echo "refusals logged by the untrusted and the plain node:"
grep -h 'Cannot connect to mesh peer' "$log_r" "$log_p" | sed 's/^/  /'
ip netns exec "$ns_b" ss -tn state established "( sport = :7400 )" >"$work/connections.txt" 2>&1 || true
echo "RESULT tls: inbound mesh connections held open by b after 3 s of refused attempts:" \
     "$(($(wc -l <"$work/connections.txt") - 1))"
sed 's/^/  /' "$work/connections.txt"
read_status() {
  status_json=$(ip netns exec "$ns_a" "$bin" status --json 2>"$work/status.err") \
    || fail "status --json failed: $(cat "$work/status.err")"
}
mesh_text() {  # the mesh part of `status` as text
  ip netns exec "$ns_a" "$bin" status | sed -n '/^mesh nodes/,/^dead letters/p' | sed '$d'
}
read_status
view_state() {  # view_state OBSERVER PEER
  echo "$status_json" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(next((p["state"] for p in doc["mesh"]["peers"]
            if p["observer"] == sys.argv[1] and p["node"] == sys.argv[2]), "absent"))' "$1" "$2"
}
echo "status --json: a sees b $(view_state mesh-a mesh-b), 0r $(view_state mesh-a mesh-0r)," \
     "0p $(view_state mesh-a mesh-0p); 0r sees a $(view_state mesh-0r mesh-a), 0p sees a" \
     "$(view_state mesh-0p mesh-a)"
[ "$(view_state mesh-a mesh-b)" = up ] || fail "status: a does not see b up"
[ "$(view_state mesh-0r mesh-a)" = unreachable ] || fail "status: 0r does not show a unreachable"
[ "$(view_state mesh-0p mesh-a)" = unreachable ] || fail "status: 0p does not show a unreachable"
for peer in mesh-0r mesh-0p; do
  [ "$(view_state mesh-a "$peer")" != up ] || fail "status: a shows $peer up"
done
echo "status (text) on a:"
mesh_text | sed 's/^/  /'
kill -TERM "$pid_r" "$pid_p"
wait "$pid_r" "$pid_p" 2>/dev/null || true
echo "RESULT tls: the untrusted node and the plain node were refused and never became peers"
# Refused handshakes must not disturb the trusted link: CAF 0.17.6 left
# OpenSSL's error queue dirty after each one and then closed healthy
# connections at their next read (app/openssl_error_queue.cpp).
for log in "$log_a" "$log_b"; do
  lost=$(grep -c 'Mesh peer lost' "$log" || true)
  [ "$lost" = 0 ] || fail "the link between a and b dropped $lost times during refused handshakes ($log)"
done
echo "RESULT tls: the link between a and b never dropped during the probes and refused handshakes"

# ---- scenario 3: SIGKILL takeover over TLS
add_jobs 12
wait_for 30 "worker b to hold jobs" has_jobs mesh-b
wait_for 30 "worker a to hold jobs" has_jobs mesh-a
sleep 0.5
held=$(live_jobs_of mesh-b | paste -sd, -)
[ -n "$held" ] || fail "worker b finished its jobs before the fault (generator too fast?)"
t0=$(now_ms)
kill -9 "$pid_b"
echo "SIGKILL of worker b at $t0; it held: $held"
a_claimed() { [ -n "$(claimed_by_after mesh-a "$t0" "$held")" ]; }
wait_for 10 "worker a to claim b's jobs after the SIGKILL" a_claimed
kill_ms=$(claimed_by_after mesh-a "$t0" "$held")
kill_seen=$(noticed_after "$t0" "$log_a")
echo "RESULT tls sigkill: noticed after ${kill_seen} ms; jobs claimed again after ${kill_ms} ms (target <= 1000)"
[ "$kill_ms" -le 1000 ] || fail "SIGKILL takeover over TLS took ${kill_ms} ms (> 1000)"
b_down() { read_status; [ "$(view_state mesh-a mesh-b)" = down ]; }
wait_for 10 "status to show b down" b_down
echo "status (text) on a after the takeover:"
mesh_text | sed 's/^/  /'
check_census "sigkill over TLS"

kill -TERM "$pid_a" 2>/dev/null || true
wait "$pid_a" 2>/dev/null || true

# ---- scenario 4: generator nodes over mutual TLS
t4=$(now_ms)
# serve-generator loads its configuration like `run`, TLS checks included
# (check_mesh_security): a partial set and a key without its passphrase are
# refused before anything listens.
refuses_config() {  # refuses_config WHAT EXPECTED VAR=value...
  local what=$1 expected=$2 out; shift 2
  if out=$(ip netns exec "$ns_g" env QUEL_NODE_ID=gen-check QUEL_MESH_LISTEN="$ip_g:7501" "$@" \
             timeout 10 "$bin" serve-generator 2>&1); then
    fail "serve-generator started with $what"
  fi
  echo "$out" | grep -q "$expected" || fail "serve-generator with $what did not say \"$expected\": $out"
  echo "  serve-generator with $what: $(echo "$out" | grep -m 1 "$expected")"
}
refuses_config "a certificate but no key or CA" "mesh.tls_key" \
  QUEL_MESH_TLS_CERTIFICATE="$certs/g.crt"
refuses_config "an encrypted key without its passphrase" "QUEL_MESH_TLS_KEY_PASSPHRASE" \
  QUEL_MESH_TLS_CERTIFICATE="$certs/b.crt" QUEL_MESH_TLS_KEY="$certs/b.enc.key" \
  QUEL_MESH_TLS_CA="$certs/ca.crt"
refuses_config "plain mode on a non-loopback address" "not a loopback address"
echo "RESULT tls generators: serve-generator refuses a partial or unusable TLS configuration"

start_generator() {  # start_generator HOST CA -> pid in $gen_pid, log in $gen_log
  local host=$1 ns_var=ns_$1 ip_var=ip_$1
  gen_log=$work/generator-$host.log
  # shellcheck disable=SC2046
  ip netns exec "${!ns_var}" env QUEL_NODE_ID="gen-$host" QUEL_MESH_LISTEN="${!ip_var}:7500" \
    QUEL_GENERATOR_LOCAL_LATENCY_MS=800 QUEL_GENERATOR_CONCURRENCY=4 $(tls_env "$host" "$2") \
    "$bin" serve-generator >"$gen_log" 2>&1 &
  gen_pid=$!
  pids+=("$gen_pid")
  echo "started generator node $host (pid $gen_pid, log $gen_log)"
}
start_generator g ca; pid_g=$gen_pid; log_g=$gen_log
start_generator gr other; pid_gr=$gen_pid; log_gr=$gen_log
published() { grep -q 'Generator node published' "$1"; }
wait_for 20 "generator node g to publish" published "$log_g"
wait_for 20 "generator node gr to publish" published "$log_gr"
grep 'Generator node published' "$log_g" | grep -q 'transport=mutual TLS' \
  || fail "generator node g does not say it uses mutual TLS"
# shellcheck disable=SC2046
start_worker a $(tls_env a ca) QUEL_MESH_GENERATORS="$ip_g:7500,$ip_gr:7500"
pid_a=$worker_pid; log_a=$worker_log
generator_up() { grep 'Generator node up' "$log_a" | grep -qE "node=gen-g( |$)"; }
gr_refused() { grep 'Generator node unreachable' "$log_a" | grep -q "address=$ip_gr:7500"; }
wait_for 30 "worker a to greet generator node g over TLS" generator_up
wait_for 30 "worker a to log the refusal of generator node gr" gr_refused
echo "refusal logged by worker a: $(grep -m 1 'Generator node unreachable' "$log_a")"
served() { grep -c 'Generated an image for a worker' "$1" 2>/dev/null || true; }
before=$(sql -c "SELECT count(*) FROM quel_worker_image")
add_jobs 8
check_census "generator nodes over TLS"
made=$(( $(sql -c "SELECT count(*) FROM quel_worker_image") - before ))
on_g=$(served "$log_g") on_gr=$(served "$log_gr")
echo "RESULT tls generators: $made images made; model calls on g: $on_g, on gr (other CA): $on_gr"
[ "$on_g" -ge "$made" ] || fail "only $on_g of $made model calls ran on generator node g"
[ "$on_gr" = 0 ] || fail "generator node gr (another CA) got $on_gr calls"
if grep 'Generator node up' "$log_a" | grep -q 'node=gen-gr'; then
  fail "worker a greeted generator node gr, whose certificate another CA signed"
fi
read_status
generator_field() {  # generator_field ADDRESS FIELD: as worker mesh-a sees it
  echo "$status_json" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(next((g[sys.argv[2]] for g in doc["mesh"]["generators"]
            if g["observer"] == "mesh-a" and g["address"] == sys.argv[1]), "absent"))' "$1" "$2"
}
echo "status --json: g $(generator_field "$ip_g:7500" state) capacity" \
     "$(generator_field "$ip_g:7500" capacity), gr $(generator_field "$ip_gr:7500" state):" \
     "$(generator_field "$ip_gr:7500" error)"
[ "$(generator_field "$ip_g:7500" state)" = up ] || fail "status: g is not up"
[ "$(generator_field "$ip_g:7500" capacity)" = 4 ] || fail "status: g's capacity is not 4"
[ "$(generator_field "$ip_gr:7500" state)" = unreachable ] || fail "status: gr is not unreachable"
[ "$(generator_field "$ip_gr:7500" node)" = None ] || fail "status: gr has a node id (greeted?)"
echo "status --json on a, mesh.generators:"
echo "$status_json" | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["mesh"]["generators"], indent=2))' \
  | sed 's/^/  /'
echo "status (text) on a:"
ip netns exec "$ns_a" "$bin" status | sed -n '/^generator node/,/^dead letters/p' | sed '$d' \
  | sed 's/^/  /'
kill -TERM "$pid_a" "$pid_g" "$pid_gr" 2>/dev/null || true
wait "$pid_a" "$pid_g" "$pid_gr" 2>/dev/null || true
[ -z "$(rcli --scan --pattern 'quel:mesh:generators:*')" ] \
  || fail "the generator view of worker a outlived its clean stop"
echo "RESULT tls generators: scenario took $(( $(now_ms) - t4 )) ms"
echo "PASSED: mutual TLS (${protocol:-?} ${cipher:-?}); untrusted and plain nodes refused;" \
     "sigkill over TLS noticed ${kill_seen} ms, jobs running again ${kill_ms} ms;" \
     "generator node over TLS served $on_g calls, the one of another CA none"
