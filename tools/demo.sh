#!/usr/bin/env bash
# tools/demo.sh BUILD_DIR — a 5-node ringkeeper cluster on loopback, narrated; then the KV part
# (tools/demo_kv.sh: kvd nodes keeping every key through a kill and a decommission).
# Started by `tools/dev demo`. Data goes to ./demo-data (wiped at the start); logs beside it.
set -euo pipefail

BUILD="${1:?usage: tools/demo.sh BUILD_DIR}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/demo-data"
RINGD="$BUILD/tools/ringd"
RINGCTL="$BUILD/tools/ringctl"
N=5
GOSSIP_BASE=7000
ADMIN_BASE=7180

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
admin() { echo "127.0.0.1:$((ADMIN_BASE + $1))"; }
gossip() { echo "127.0.0.1:$((GOSSIP_BASE + $1))"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $end ]; then echo "demo: timed out waiting for $what" >&2; exit 1; fi
    sleep 0.2
  done
}

start_node() {  # start_node I
  local i=$1
  "$RINGD" --data-dir "$DATA/n$i" --listen "$(gossip "$i")" --admin "$(admin "$i")" \
    --seeds "$(gossip 0)" 2>>"$DATA/n$i.log" &
  PIDS[$i]=$!
}

sees() {  # sees VIEWER NODE_ID LIVENESS: true if VIEWER sees the node so
  [ "$(liveness_of "$1" "$2")" = "$3" ]
}

liveness_of() {  # liveness_of VIEWER NODE_ID: up, down, suspect or unknown (first column of status)
  case "$("$RINGCTL" --host "$(admin "$1")" status | grep -F "$2" | cut -c1)" in
    U) echo up ;; D) echo down ;; S) echo suspect ;; *) echo unknown ;;
  esac
}

info_field() {  # info_field NODE FIELD (from ringctl --json info)
  "$RINGCTL" --json --host "$(admin "$1")" info | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

for i in $(seq 0 $((N - 1))); do
  for p in $((GOSSIP_BASE + i)) $((ADMIN_BASE + i)); do
    if port_busy "$p"; then echo "demo: port $p on 127.0.0.1 is in use; stop whatever holds it and retry" >&2; exit 1; fi
  done
done
rm -rf "$DATA"
mkdir -p "$DATA"

say "Starting $N ringd nodes at once on loopback (gossip ports $GOSSIP_BASE-$((GOSSIP_BASE + N - 1)), admin $ADMIN_BASE-$((ADMIN_BASE + N - 1)))"
note "Every node is told the first one as its seed; node 0 is its own only seed, so it founds the cluster."
note "Defaults: 16 tokens per node from the balanced allocator, simple strategy, RF 3. Data: $DATA"
t0=$SECONDS
for i in $(seq 0 $((N - 1))); do start_node "$i"; done
wait_for 30 "the cluster to form" "$RINGCTL" --host "$(admin 0)" health
for i in $(seq 1 $((N - 1))); do wait_for 30 "node $i to converge" "$RINGCTL" --host "$(admin "$i")" health; done
note "Formed and converged in about $((SECONDS - t0)) s: every node UN (up, normal) and gossiping the same ring digest."
run "$RINGCTL" --host "$(admin 0)" status

say "Who owns a key? Any node answers; the ring is the same everywhere"
for key in user:42 cart:7 session:abc; do run "$RINGCTL" --host "$(admin $((RANDOM % N)))" owners "$key"; done
note "replicas: the 3 natural replicas clockwise from the key's token; reachable: the preference list a"
note "KV server would use right now (natural replicas that are up, then fallbacks); pending: none, no move."

VICTIM_ID=$(info_field 3 id)
GEN_BEFORE=$(info_field 3 generation)
say "kill -9 node 3 ($VICTIM_ID) — no goodbye, as in a crash"
run kill -9 "${PIDS[3]}"
wait "${PIDS[3]}" 2>/dev/null || true
t0=$SECONDS
for i in 0 1 2 4; do wait_for 30 "node $i to mark node 3 down" sees "$i" "$VICTIM_ID" down; done
note "Every live node marked it down (DN) within about $((SECONDS - t0)) s, by probes and indirect probes."
run "$RINGCTL" --host "$(admin 0)" status
run "$RINGCTL" --host "$(admin 0)" owners user:42
note "Node 3 may still be a natural replica, but it has left 'reachable'; a fallback stands in if needed."

say "Restarting node 3 from its data dir"
start_node 3
wait_for 30 "node 3 to serve" "$RINGCTL" --host "$(admin 3)" info
for i in 0 1 2 4; do wait_for 30 "node $i to see node 3 up" sees "$i" "$VICTIM_ID" up; done
GEN_AFTER=$(info_field 3 generation)
note "Same node id, same tokens (persisted), generation $GEN_BEFORE -> $GEN_AFTER: nothing of its previous life can mark it down."
run "$RINGCTL" --host "$(admin 1)" status

say "Moving node 2's tokens"
NEW_TOKENS="1000000000000000000,7000000000000000000,13000000000000000000"
run "$RINGCTL" --host "$(admin 2)" move --tokens "$NEW_TOKENS" --dry-run
note "The plan above announced nothing. Now the move itself, phase by phase: each waits until every member acknowledged the last."
run "$RINGCTL" --host "$(admin 2)" move --tokens "$NEW_TOKENS" --wait
for i in $(seq 0 $((N - 1))); do wait_for 30 "node $i to converge on the move" "$RINGCTL" --host "$(admin "$i")" health; done
note "Every node routes with the new tokens; all agree on the new ring (converged again)."
run "$RINGCTL" --host "$(admin 0)" status

LEAVER_ID=$(info_field 4 id)
say "Decommissioning node 4 ($LEAVER_ID)"
run "$RINGCTL" --host "$(admin 4)" decommission --wait
for i in 0 1 2 3; do wait_for 30 "node $i to converge without node 4" "$RINGCTL" --host "$(admin "$i")" health; done
note "Its ranges went to their next owners phase by phase, as in the move. Node 4 is LEFT (UL, 0 tokens): it owns"
note "nothing and still answers its admin API until it is stopped; its data dir will not start a node again (exit 3)."
run "$RINGCTL" --host "$(admin 0)" status

say "Stopping every node with SIGTERM (node 4 too): each tells its peers it is going, flushes and exits 0"
for i in $(seq 0 $((N - 1))); do kill -TERM "${PIDS[$i]}"; done
status=0
for i in $(seq 0 $((N - 1))); do
  if wait "${PIDS[$i]}"; then note "node $i exited 0"; else status=$?; note "node $i exited $status"; fi
done
PIDS=()
# The KV part: kvd nodes (ringkeeper embedded in a KV server) keep every key through a kill and a decommission.
"$ROOT/tools/demo_kv.sh" "$BUILD" || status=$?
say "Done. Data dirs and logs are in $DATA; start a node again with:"
note "$RINGD --data-dir $DATA/n0 --listen $(gossip 0) --admin $(admin 0)"
exit $status
