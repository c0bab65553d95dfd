#!/usr/bin/env bash
# tools/demo_kv.sh BUILD_DIR — the KV part of `tools/dev demo`: four kvd nodes on loopback, keys
# written through one node, a node killed, every key read back, a node decommissioned, every key
# read back again — narrated. Data goes to ./demo-data/kv (wiped at the start). docs/kvd.md.
set -euo pipefail

BUILD="${1:?usage: tools/demo_kv.sh BUILD_DIR}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/demo-data/kv"
KVD="$BUILD/tools/kvd"
RINGCTL="$BUILD/tools/ringctl"
N=4
KEYS=300
GOSSIP_BASE=7300
ADMIN_BASE=7380
KV_BASE=7280

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }
admin() { echo "127.0.0.1:$((ADMIN_BASE + $1))"; }
gossip() { echo "127.0.0.1:$((GOSSIP_BASE + $1))"; }
kv() { echo "127.0.0.1:$((KV_BASE + $1))"; }
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
  "$KVD" --data-dir "$DATA/n$i" --listen "$(gossip "$i")" --admin "$(admin "$i")" --kv "$(kv "$i")" \
    --seeds "$(gossip 0)" 2>>"$DATA/n$i.log" &
  PIDS[$i]=$!
}

metric() {  # metric NODE NAME: the value of one kv counter on NODE
  curl -s "http://$(kv "$1")/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

metric_sum() {  # metric_sum NAME NODE...: a counter summed over nodes
  local name=$1 total=0 i; shift
  for i in "$@"; do total=$((total + $(metric "$i" "$name"))); done
  echo $total
}

read_all() {  # read_all NODE: reads every key with R=2 through NODE; prints counts, fails on any loss
  local ok=0 lost=0 stale=0 other=0 i body code
  for i in $(seq 1 $KEYS); do
    body=$(curl -s -w '\n%{http_code}' "http://$(kv "$1")/kv/key-$i?r=2")
    code=${body##*$'\n'}
    body=${body%$'\n'*}
    if [ "$code" = 200 ] && [ "$body" = "value-$i" ]; then ok=$((ok + 1))
    elif [ "$code" = 200 ]; then stale=$((stale + 1))
    elif [ "$code" = 404 ]; then lost=$((lost + 1))
    else other=$((other + 1)); fi
  done
  note "read $KEYS keys through node $1 with R=2: $ok current, $lost lost, $stale stale, $other failed"
  [ $ok -eq $KEYS ]
}

for i in $(seq 0 $((N - 1))); do
  for p in $((GOSSIP_BASE + i)) $((ADMIN_BASE + i)) $((KV_BASE + i)); do
    if port_busy "$p"; then echo "demo: port $p on 127.0.0.1 is in use; stop whatever holds it and retry" >&2; exit 1; fi
  done
done
rm -rf "$DATA"
mkdir -p "$DATA"

say "KV: starting $N kvd nodes — each a ringkeeper node plus the data API on its --kv port ($KV_BASE-$((KV_BASE + N - 1)))"
note "kvd takes every ringd flag plus --kv; its data lives in DIR/kv (RocksDB), beside the ring's state."
for i in $(seq 0 $((N - 1))); do start_node "$i"; done
for i in $(seq 0 $((N - 1))); do wait_for 30 "node $i to converge" "$RINGCTL" --host "$(admin "$i")" health; done
run "$RINGCTL" --host "$(admin 0)" status

say "Writing $KEYS keys through node 0 with W=2 (of RF 3)"
run curl -s -i -X PUT --data-binary value-1 "http://$(kv 0)/kv/key-1?w=2"
for i in $(seq 2 $KEYS); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "value-$i" "http://$(kv 0)/kv/key-$i?w=2")
  [ "$code" = 204 ] || { echo "demo: PUT key-$i answered $code" >&2; exit 1; }
done
note "Each PUT went to the key's 3 natural replicas and answered 204 once 2 acknowledged; the"
note "X-Ringkeeper-Timestamp is the hybrid-logical-clock stamp that orders writes (last write wins)."
run curl -s -i "http://$(kv 1)/kv/key-1"

VICTIM_ID=$("$RINGCTL" --json --host "$(admin 2)" info | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
say "kill -9 node 2 ($VICTIM_ID), then read every key back through node 1"
run kill -9 "${PIDS[2]}"
wait "${PIDS[2]}" 2>/dev/null || true
read_all 1
note "Every key has 3 replicas and reads need 2: one node down loses nothing."
note "A write that insists on all 3 replicas cannot be acknowledged, and says which replica did not answer:"
run curl -s -i -X PUT --data-binary x "http://$(kv 0)/kv/key-1?w=3" || true
echo
for i in $(seq 1 20); do
  curl -s -o /dev/null -X PUT --data-binary "value-$i" "http://$(kv 0)/kv/key-$i"
done
note "Writes for node 2's ranges meanwhile left hints for it on the next node clockwise (a fallback):"
note "kv_hints_stored_total over the live nodes = $(metric_sum kv_hints_stored_total 0 1 3). Hints never count toward W."

say "Restarting node 2: it takes its hints back"
start_node 2
wait_for 30 "node 2 to converge" "$RINGCTL" --host "$(admin 2)" health
replayed() { [ "$(metric 0 kv_hints_pending)" = 0 ] && [ "$(metric 1 kv_hints_pending)" = 0 ] && [ "$(metric 3 kv_hints_pending)" = 0 ]; }
wait_for 30 "hints to be replayed" replayed
note "Hints pending on every node: 0 (replayed: $(metric_sum kv_hints_replayed_total 0 1 3))."

LEAVER_ID=$("$RINGCTL" --json --host "$(admin 3)" info | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
say "Decommissioning node 3 ($LEAVER_ID): its ranges stream to their next owners before they read from them"
run "$RINGCTL" --host "$(admin 3)" decommission --wait
for i in 0 1 2; do wait_for 30 "node $i to converge without node 3" "$RINGCTL" --host "$(admin "$i")" health; done
note "Records streamed to the new owners: $(metric_sum kv_streamed_keys_total 0 1 2)."
read_all 0

say "Stopping the kvd nodes with SIGTERM"
status=0
for i in $(seq 0 $((N - 1))); do kill -TERM "${PIDS[$i]}"; done
for i in $(seq 0 $((N - 1))); do
  if wait "${PIDS[$i]}"; then note "node $i exited 0"; else status=$?; note "node $i exited $status"; fi
done
PIDS=()
exit $status
