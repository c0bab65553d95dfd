#!/usr/bin/env bash
# tools/bench_vs_serf.sh [--nodes N] [--runs R] [--build DIR]
# Side by side on loopback, in one run: N real Serf agents (Debian package `serf`, default LAN
# profile) and N ringd nodes (default settings). Both sides are polled the same way by
# member_poller (tests/bench): one thread per member, one query every POLL seconds (Serf's
# msgpack RPC `members`; ringd's admin HTTP /v1/status), no process spawned per poll.
#   join:   one side after the other: member 0 first (a Serf agent whose -join fails exits),
#           then from starting the other N-1 at once until every member lists all N up/alive.
#   detect: both victims are SIGKILLed at the same moment; time until every live member lists
#           its side's victim as down/failed. False downs: any other member seen down/failed by
#           any poll, or marked so in the members' own logs (ringd "is down", Serf
#           "EventMemberFailed").
# Prints one JSON line per run. Installs serf if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"
N=10
RUNS=3
POLL_MS=100
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) N=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --poll-ms) POLL_MS=$2; shift 2 ;;
    *) echo "usage: $0 [--nodes N] [--runs R] [--build DIR] [--poll-ms MS]" >&2; exit 2 ;;
  esac
done
RINGD="$BUILD/tools/ringd"
RINGCTL="$BUILD/tools/ringctl"
POLLER="$BUILD/tests/bench/member_poller"
if ! command -v serf >/dev/null; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q serf >/dev/null
fi

WORK="$(mktemp -d /tmp/ringkeeper-vs-serf.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A base port with 4N free ports above it, below the kernel's ephemeral range (so no outgoing
# connection takes one of them between the pick and the bind).
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
pick_base() {
  local base
  while :; do
    base=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000 - 4 * N)))
    local ok=1
    for k in $(seq 0 $((4 * N - 1))); do if port_busy $((base + k)); then ok=0; break; fi; done
    [ $ok -eq 1 ] && { echo $base; return; }
  done
}

serf_rpc() { echo "127.0.0.1:$((BASE + N + $1))"; }
serf_bind() { echo "127.0.0.1:$((BASE + $1))"; }
rk_gossip() { echo "127.0.0.1:$((BASE + 2 * N + $1))"; }
rk_admin() { echo "127.0.0.1:$((BASE + 3 * N + $1))"; }

list() {  # list FN FIRST LAST: comma-separated FN outputs
  local out=""
  for k in $(seq "$2" "$3"); do out="$out${out:+,}$($1 "$k")"; done
  echo "$out"
}
field() { echo "$1" | sed -n "s/.*\"$2\": *\([-0-9.]*\).*/\1/p"; }

for run in $(seq 1 "$RUNS"); do
  BASE=$(pick_base)
  D="$WORK/run$run"
  mkdir -p "$D"
  PIDS=()
  # --- join, one side after the other (so neither pays for the other's process starts):
  # member 0 first (a Serf agent whose -join fails exits), then the other N-1 at once.
  start_serf() {
    serf agent -node="s$1" -bind="$(serf_bind "$1")" -rpc-addr="$(serf_rpc "$1")" \
      -join="$(serf_bind 0)" -log-level=info >"$D/serf$1.log" 2>&1 &
    PIDS+=($!)
    SERF_PID[$1]=$!
  }
  start_ringd() {
    "$RINGD" --data-dir "$D/rk$1" --listen "$(rk_gossip "$1")" --admin "$(rk_admin "$1")" \
      --seeds "$(rk_gossip 0)" 2>"$D/rk$1.log" &
    PIDS+=($!)
    RK_PID[$1]=$!
  }
  wait_up() {  # wait_up CMD...: member 0 answers
    local end=$((SECONDS + 30))
    until "$@" >/dev/null 2>&1; do
      [ $SECONDS -lt $end ] || { echo "member 0 did not start" >&2; exit 1; }
      sleep 0.05
    done
  }
  start_serf 0
  wait_up serf members -rpc-addr="$(serf_rpc 0)"
  T0NS=$(date +%s%N)
  for i in $(seq 1 $((N - 1))); do start_serf "$i"; done
  SERF_JOIN=$(field "$("$POLLER" join --since "$T0NS" --n "$N" --poll-ms "$POLL_MS" --serf "$(list serf_rpc 0 $((N - 1)))")" serf_s)
  start_ringd 0
  wait_up "$RINGCTL" --host "$(rk_admin 0)" info
  T0NS=$(date +%s%N)
  for i in $(seq 1 $((N - 1))); do start_ringd "$i"; done
  RK_JOIN=$(field "$("$POLLER" join --since "$T0NS" --n "$N" --poll-ms "$POLL_MS" --ringd "$(list rk_admin 0 $((N - 1)))")" ringkeeper_s)
  # Let both settle (ringd: tokens claimed, NORMAL) before the kill.
  for i in $(seq 0 $((N - 1))); do
    end=$((SECONDS + 60))
    until "$RINGCTL" --host "$(rk_admin "$i")" health >/dev/null 2>&1 || [ $SECONDS -ge $end ]; do sleep 0.2; done
  done
  sleep 3  # quiet period: both sides idle, nothing in flight

  # --- kill one member of each side at the same moment --------------------------------------
  V=$((N - 1))
  SERF_VICTIM="s$V"
  RK_VICTIM="$(rk_gossip "$V")"
  T1NS=$(date +%s%N)
  kill -9 "${SERF_PID[$V]}" "${RK_PID[$V]}"
  DET=$("$POLLER" detect --since "$T1NS" --poll-ms "$POLL_MS" --serf "$(list serf_rpc 0 $((N - 2)))" \
    --ringd "$(list rk_admin 0 $((N - 2)))" --serf-victim "$SERF_VICTIM" --ringd-victim "$RK_VICTIM")
  SERF_DET=$(field "$DET" serf_s)
  RK_DET=$(field "$DET" ringkeeper_s)
  sleep 2  # a little longer, so a false down right after the detection would show in the logs
  # Every "marked down/failed" event in the members' own logs, other than about the victim.
  RK_VICTIM_ID=$(sed -n 's/.* node \([0-9a-f-]*\) generation .*/\1/p' "$D/rk$V.log" | head -1)
  FALSE_SERF=$(( $(cat "$D"/serf*.log | grep -E "EventMember(Failed|Leave)" | grep -vc "Failed: $SERF_VICTIM " || true) + $(field "$DET" false_downs_serf) ))
  FALSE_RK=$(( $(cat "$D"/rk*.log | grep " is down" | grep -vc "$RK_VICTIM_ID" || true) + $(field "$DET" false_downs_ringkeeper) ))
  for v in "$SERF_JOIN" "$RK_JOIN" "$SERF_DET" "$RK_DET"; do
    if [ -z "$v" ] || [ "$v" = "-1" ] || [ "${v#-}" != "$v" ]; then
      echo "run $run failed (a member never reached the condition; see the logs in $D)" >&2
      KEEP=1
      for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
      continue 2
    fi
  done
  RATIO=$(echo "scale=3; $RK_DET / $SERF_DET" | bc)
  JRATIO=$(echo "scale=3; $RK_JOIN / $SERF_JOIN" | bc)
  printf '{"nodes": %d, "run": %d, "serf_join_s": %.2f, "ringkeeper_join_s": %.2f, "join_ratio": %s, "serf_detect_s": %.2f, "ringkeeper_detect_s": %.2f, "detect_ratio": %s, "false_downs_serf": %d, "false_downs_ringkeeper": %d}\n' \
    "$N" "$run" "$SERF_JOIN" "$RK_JOIN" "$JRATIO" "$SERF_DET" "$RK_DET" "$RATIO" "$FALSE_SERF" "$FALSE_RK"
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
done
