#!/usr/bin/env bash
# tools/bench_vs_serf.sh [--nodes N] [--runs R] [--build DIR]
# Side by side on loopback, in one run: N real Serf agents (Debian package `serf`, default LAN
# profile) and N ringd nodes (default settings). Both sides are polled the same way: one
# background loop per live member, each running the side's CLI (`serf members` / `ringctl
# status`) every POLL seconds.
#   join:   member 0 of each side is started first (a Serf agent whose -join fails exits); from
#           starting the other N-1 at once until every member lists all N as up/alive.
#   detect: both victims are SIGKILLed at the same moment; time until every live member lists
#           its side's victim as down/failed. False downs: any other member marked down/failed,
#           from the members' own logs (ringd "is down", Serf "EventMemberFailed").
# Prints one JSON line per run. Installs serf if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"
N=10
RUNS=3
POLL=0.2
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) N=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --poll) POLL=$2; shift 2 ;;
    *) echo "usage: $0 [--nodes N] [--runs R] [--build DIR] [--poll SECONDS]" >&2; exit 2 ;;
  esac
done
RINGD="$BUILD/tools/ringd"
RINGCTL="$BUILD/tools/ringctl"
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

now() { date +%s.%N; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A base port with 4N free ports above it.
pick_base() {
  local base
  while :; do
    base=$((20000 + RANDOM % 35000))
    local ok=1
    for k in $(seq 0 $((4 * N - 1))); do if port_busy $((base + k)); then ok=0; break; fi; done
    [ $ok -eq 1 ] && { echo $base; return; }
  done
}

serf_rpc() { echo "127.0.0.1:$((BASE + N + $1))"; }
serf_bind() { echo "127.0.0.1:$((BASE + $1))"; }
rk_gossip() { echo "127.0.0.1:$((BASE + 2 * N + $1))"; }
rk_admin() { echo "127.0.0.1:$((BASE + 3 * N + $1))"; }

# Poll helpers: print the count of members in a state as member I sees them.
serf_count() { serf members -rpc-addr="$(serf_rpc "$1")" 2>/dev/null | grep -c " $2" || true; }
rk_count() { "$RINGCTL" --host "$(rk_admin "$1")" status 2>/dev/null | grep -c "^$2" || true; }
serf_sees() { serf members -rpc-addr="$(serf_rpc "$1")" 2>/dev/null | grep "^$2 " | grep -q " $3"; }
serf_all_alive() { [ "$(serf_count "$1" alive)" -eq "$N" ]; }
rk_all_up() { [ "$(rk_count "$1" U)" -eq "$N" ]; }
rk_sees() { "$RINGCTL" --host "$(rk_admin "$1")" status 2>/dev/null | grep -F " $2 " | grep -q "^$3"; }

# poll_until OUTFILE T0 CMD...: writes the seconds since T0 at which CMD first succeeded.
poll_until() {
  local out=$1 t0=$2; shift 2
  local end=$(( $(date +%s) + 120 ))
  until "$@"; do
    if [ "$(date +%s)" -ge $end ]; then echo "timeout" >"$out"; return; fi
    sleep "$POLL"
  done
  echo "$(now) - $t0" | bc >"$out"
}

max_of() { sort -g "$@" | tail -1; }

for run in $(seq 1 "$RUNS"); do
  BASE=$(pick_base)
  D="$WORK/run$run"
  mkdir -p "$D"
  PIDS=()
  # --- member 0 of each side first (a Serf agent whose -join fails exits), then the rest at once
  start_member() {
    local i=$1
    serf agent -node="s$i" -bind="$(serf_bind "$i")" -rpc-addr="$(serf_rpc "$i")" \
      -join="$(serf_bind 0)" -log-level=info >"$D/serf$i.log" 2>&1 &
    PIDS+=($!)
    SERF_PID[$i]=$!
    "$RINGD" --data-dir "$D/rk$i" --listen "$(rk_gossip "$i")" --admin "$(rk_admin "$i")" \
      --seeds "$(rk_gossip 0)" 2>"$D/rk$i.log" &
    PIDS+=($!)
    RK_PID[$i]=$!
  }
  start_member 0
  end=$((SECONDS + 30))
  until { serf members -rpc-addr="$(serf_rpc 0)" && "$RINGCTL" --host "$(rk_admin 0)" info; } >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { echo "member 0 did not start" >&2; exit 1; }
    sleep 0.1
  done
  T0=$(now)
  for i in $(seq 1 $((N - 1))); do start_member "$i"; done
  POLLERS=()
  for i in $(seq 0 $((N - 1))); do
    poll_until "$D/join_serf$i" "$T0" serf_all_alive "$i" &
    POLLERS+=($!)
    poll_until "$D/join_rk$i" "$T0" rk_all_up "$i" &
    POLLERS+=($!)
  done
  wait "${POLLERS[@]}"
  SERF_JOIN=$(max_of "$D"/join_serf*)
  RK_JOIN=$(max_of "$D"/join_rk*)
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
  T1=$(now)
  kill -9 "${SERF_PID[$V]}" "${RK_PID[$V]}"
  POLLERS=()
  for i in $(seq 0 $((N - 2))); do
    poll_until "$D/det_serf$i" "$T1" serf_sees "$i" "$SERF_VICTIM" failed &
    POLLERS+=($!)
    poll_until "$D/det_rk$i" "$T1" rk_sees "$i" "$RK_VICTIM" D &
    POLLERS+=($!)
  done
  wait "${POLLERS[@]}"
  sleep 2  # a little longer, so a false down right after the detection would show in the logs
  SERF_DET=$(max_of "$D"/det_serf*)
  RK_DET=$(max_of "$D"/det_rk*)
  # Every "marked down/failed" event in the members' own logs, other than about the victim.
  RK_VICTIM_ID=$(sed -n 's/.* node \([0-9a-f-]*\) generation .*/\1/p' "$D/rk$V.log" | head -1)
  FALSE_SERF=$(cat "$D"/serf*.log | grep -E "EventMember(Failed|Leave)" | grep -vc "Failed: $SERF_VICTIM " || true)
  FALSE_RK=$(cat "$D"/rk*.log | grep " is down" | grep -vc "$RK_VICTIM_ID" || true)
  RATIO=$(echo "scale=3; $RK_DET / $SERF_DET" | bc)
  JRATIO=$(echo "scale=3; $RK_JOIN / $SERF_JOIN" | bc)
  printf '{"nodes": %d, "run": %d, "serf_join_s": %.2f, "ringkeeper_join_s": %.2f, "join_ratio": %s, "serf_detect_s": %.2f, "ringkeeper_detect_s": %.2f, "detect_ratio": %s, "false_downs_serf": %d, "false_downs_ringkeeper": %d}\n' \
    "$N" "$run" "$SERF_JOIN" "$RK_JOIN" "$JRATIO" "$SERF_DET" "$RK_DET" "$RATIO" "$FALSE_SERF" "$FALSE_RK"
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
done
