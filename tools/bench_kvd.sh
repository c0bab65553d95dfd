#!/usr/bin/env bash
# tools/bench_kvd.sh [--seconds S] [--connections C] [--keys N] [--build DIR]
# kvd under HTTP load with wrk (1 KiB values), on loopback, in one run:
#   single   one kvd, --rf 1, w=1 / r=1: the HTTP server and store alone (the baseline)
#   steady   three kvd, RF 3, w=2 / r=2: the cost of replication
#   change   the same three while ownership changes run back to back (node 2 moves to random
#            tokens, then rebalances, again and again until the window ends)
# For each: PUT then GET, S seconds each (default 10), C connections (default 16) on 2 wrk
# threads, keys drawn from N (default 5000; the PUT window writes them first, so GETs find them).
# Prints one JSON line per measurement: {"setup","op","rps","p50_ms","p99_ms","non2xx","errors"},
# then the routing share (kvd's kv_routing_nanoseconds_total / kv_request_nanoseconds_total)
# and the targets' verdict (during changes: throughput >= 0.7 x steady, p99 <= 2 x steady).
# Installs wrk if missing. Ports are picked by the kernel (DIR/addresses.json).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"
SECS=10
CONNS=16
KEYS=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds S] [--connections C] [--keys N] [--build DIR]" >&2; exit 2 ;;
  esac
done
if ! command -v wrk >/dev/null; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q wrk >/dev/null
fi
KVD="$BUILD/tools/kvd"
RINGCTL="$BUILD/tools/ringctl"
[ -x "$KVD" ] && [ -x "$RINGCTL" ] || { echo "build kvd and ringctl first ($BUILD)" >&2; exit 2; }

WORK="$(mktemp -d /tmp/ringkeeper-bench-kvd.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/put.lua" <<LUA
local value = string.rep("v", 1024)
local n = 0
local threads = 0
id = 0  -- set per thread by setup()
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function request()
  n = n + 1
  local key = "bench" .. ((n * 2 + id) % $KEYS)
  return wrk.format("PUT", "/kv/" .. key .. "?w=" .. W, nil, value)
end
LUA
cat >"$WORK/get.lua" <<LUA
math.randomseed(os.time())
function request()
  return wrk.format("GET", "/kv/bench" .. math.random(0, $KEYS - 1) .. "?r=" .. R)
end
LUA

addr() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1/addresses.json" "$2"; }
wait_file() { for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "no $1" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME SEED_PORT LISTEN_PORT [flags...]
start() {
  local dir="$WORK/$1" seed=$2 port=$3; shift 3
  mkdir -p "$dir"
  "$KVD" --data-dir "$dir" --listen "127.0.0.1:$port" --admin 127.0.0.1:0 --kv 127.0.0.1:0 \
    --seeds "127.0.0.1:$seed" --log-level warn "$@" 2>"$dir.log" &
  PIDS+=($!)
  wait_file "$dir/addresses.json"
}
converged() {  # converged ADMIN NODES
  for _ in $(seq 1 300); do
    if "$RINGCTL" --host "$1" --json health 2>/dev/null | python3 -c \
      'import json,sys; h=json.load(sys.stdin); sys.exit(0 if h["converged"] and h["live"]==int(sys.argv[1]) else 1)' "$2"; then
      return 0
    fi
    sleep 0.2
  done
  echo "cluster did not converge" >&2; exit 1
}

# measure SETUP OP KV_ADDR W R → one JSON line
measure() {
  local setup=$1 op=$2 kv=$3 w=$4 r=$5 out
  # wrk's Lua sees W and R through os.getenv
  W=$w R=$r wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/$op.lua" "http://$kv" >"$WORK/wrk.out" 2>&1 || true
  python3 - "$setup" "$op" "$WORK/wrk.out" <<'PY'
import re, sys, json
out = open(sys.argv[3]).read()
def ms(tag):
    m = re.search(r"^\s*" + re.escape(tag) + r"\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not m: return None
    v = float(m.group(1)); return round({"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)], 3)
rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
print(json.dumps({"setup": sys.argv[1], "op": sys.argv[2], "rps": float(rps.group(1)) if rps else None,
                  "p50_ms": ms("50%"), "p99_ms": ms("99%"), "non2xx": int(non2xx.group(1)) if non2xx else 0,
                  "errors": sum(map(int, errs.groups())) if errs else 0}))
PY
}
# The Lua scripts read W and R from the environment.
sed -i '1i W = os.getenv("W") or "2"' "$WORK/put.lua"
sed -i '1i R = os.getenv("R") or "2"' "$WORK/get.lua"

metric_sum() {  # metric_sum NAME KV_ADDR...
  local name=$1 total=0 v; shift
  for kv in "$@"; do
    v=$(curl -s "http://$kv/metrics" | awk -v n="$name" '$1 == n { print $2 }')
    total=$((total + ${v:-0}))
  done
  echo $total
}

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

# 1. one kvd, RF 1
P=$(free_port)
start single "$P" "$P" --rf 1
SINGLE_KV=$(addr "$WORK/single" kv)
converged "$(addr "$WORK/single" admin)" 1
measure single put "$SINGLE_KV" 1 1 | tee -a "$RESULTS"
measure single get "$SINGLE_KV" 1 1 | tee -a "$RESULTS"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

# 2. three kvd, RF 3; node 2 starts on random tokens so that a rebalance has work to do
P0=$(free_port); P1=$(free_port); P2=$(free_port)
random_tokens() { python3 -c 'import random; print(",".join(str(random.getrandbits(64)) for _ in range(16)))'; }
start n0 "$P0" "$P0"
start n1 "$P0" "$P1"
start n2 "$P0" "$P2" --tokens "$(random_tokens)"
KV0=$(addr "$WORK/n0" kv); KV1=$(addr "$WORK/n1" kv); KV2=$(addr "$WORK/n2" kv)
ADMIN2=$(addr "$WORK/n2" admin)
converged "$ADMIN2" 3
R0=$(metric_sum kv_routing_nanoseconds_total "$KV0"); Q0=$(metric_sum kv_request_nanoseconds_total "$KV0")
measure steady put "$KV0" 2 2 | tee -a "$RESULTS"
measure steady get "$KV0" 2 2 | tee -a "$RESULTS"
R1=$(metric_sum kv_routing_nanoseconds_total "$KV0"); Q1=$(metric_sum kv_request_nanoseconds_total "$KV0")

# 3. the same with ownership changes back to back on node 2
changes() {
  local n=0
  while [ ! -e "$WORK/stop" ]; do
    "$RINGCTL" --host "$ADMIN2" --json move --tokens "$(random_tokens)" --wait >/dev/null 2>&1 && n=$((n + 1))
    [ -e "$WORK/stop" ] && break
    "$RINGCTL" --host "$ADMIN2" --json rebalance --wait >/dev/null 2>&1 && n=$((n + 1))
  done
  echo "$n" >"$WORK/changes"
}
for op in put get; do
  rm -f "$WORK/stop"
  changes &
  CH=$!
  measure change "$op" "$KV0" 2 2 | tee -a "$RESULTS"
  touch "$WORK/stop"; wait "$CH"
  echo "{\"setup\": \"change\", \"op\": \"$op\", \"changes_completed\": $(cat "$WORK/changes")}"
done

python3 - "$RESULTS" "$R0" "$R1" "$Q0" "$Q1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
get = {(r["setup"], r["op"]): r for r in rows}
routing = (int(sys.argv[3]) - int(sys.argv[2])) / max(1, int(sys.argv[5]) - int(sys.argv[4]))
print(json.dumps({"routing_share_of_request_time": round(routing, 5)}))
for op in ("put", "get"):
    s, c, one = get[("steady", op)], get[("change", op)], get[("single", op)]
    tput = c["rps"] / s["rps"] if s["rps"] else None
    p99 = c["p99_ms"] / s["p99_ms"] if s["p99_ms"] else None
    print(json.dumps({"op": op, "replicated_vs_single_rps": round(s["rps"] / one["rps"], 3) if one["rps"] else None,
                      "change_vs_steady_rps": round(tput, 3) if tput else None,
                      "change_vs_steady_p99": round(p99, 3) if p99 else None,
                      "target_met": bool(tput and p99 and tput >= 0.7 and p99 <= 2.0)}))
PY
