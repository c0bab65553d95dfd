#!/usr/bin/env bash
# tools/bench_steady_vs_serf.sh [--nodes N] [--seconds S] [--build DIR]
# Steady-state gossip traffic on real processes, side by side with Serf: N Serf agents (default
# LAN profile) and N ringd nodes (default settings), both formed and idle, in a network namespace
# of their own (needs root; it is deleted afterwards). iptables counts every packet on the
# namespace's loopback to or from each side's gossip ports (Serf: its bind ports, UDP and TCP;
# ringd: its listen ports) for S seconds — IP packets, headers and TCP acks included, the same
# way for both. RPC and admin ports are not counted (and not polled during the window).
# Prints one JSON line. Installs serf and iptables if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"
N=30
SECONDS_WINDOW=60
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) N=$2; shift 2 ;;
    --seconds) SECONDS_WINDOW=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    *) echo "usage: $0 [--nodes N] [--seconds S] [--build DIR]" >&2; exit 2 ;;
  esac
done

if [ -z "${RK_IN_NETNS:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "needs root (a network namespace and iptables)" >&2; exit 2; }
  missing=()
  command -v serf >/dev/null || missing+=(serf)
  command -v iptables >/dev/null || missing+=(iptables)
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
  NS="rkbench-$$"
  ip netns add "$NS"
  trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
  ip netns exec "$NS" ip link set lo up
  RK_IN_NETNS=1 ip netns exec "$NS" "$0" --nodes "$N" --seconds "$SECONDS_WINDOW" --build "$BUILD"
  exit $?
fi

RINGD="$BUILD/tools/ringd"
RINGCTL="$BUILD/tools/ringctl"
WORK="$(mktemp -d /tmp/ringkeeper-steady.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

BASE=20000  # a namespace of our own: nothing else binds here
serf_bind() { echo "127.0.0.1:$((BASE + $1))"; }
serf_rpc() { echo "127.0.0.1:$((BASE + N + $1))"; }
rk_gossip() { echo "127.0.0.1:$((BASE + 2 * N + $1))"; }
rk_admin() { echo "127.0.0.1:$((BASE + 3 * N + $1))"; }
SERF_PORTS="$BASE:$((BASE + N - 1))"
RK_PORTS="$((BASE + 2 * N)):$((BASE + 3 * N - 1))"

iptables -N RK_COUNT
iptables -A OUTPUT -o lo -j RK_COUNT
iptables -A RK_COUNT -p udp -m multiport --ports "$SERF_PORTS" -m comment --comment serf
iptables -A RK_COUNT -p tcp -m multiport --ports "$SERF_PORTS" -m comment --comment serf
iptables -A RK_COUNT -p tcp -m multiport --ports "$RK_PORTS" -m comment --comment ringkeeper

for i in $(seq 0 $((N - 1))); do
  serf agent -node="s$i" -bind="$(serf_bind "$i")" -rpc-addr="$(serf_rpc "$i")" -join="$(serf_bind 0)" \
    -log-level=warn >"$WORK/serf$i.log" 2>&1 &
  PIDS+=($!)
  [ "$i" -eq 0 ] && sleep 0.5
  "$RINGD" --data-dir "$WORK/rk$i" --listen "$(rk_gossip "$i")" --admin "$(rk_admin "$i")" \
    --seeds "$(rk_gossip 0)" --log-level warn 2>"$WORK/rk$i.log" &
  PIDS+=($!)
done
# Formed: every Serf member alive as member 0 sees it; every ringd converged.
end=$((SECONDS + 120))
until [ "$(serf members -rpc-addr="$(serf_rpc 0)" 2>/dev/null | grep -c ' alive')" -eq "$N" ]; do
  [ $SECONDS -lt $end ] || { echo "serf did not form" >&2; exit 1; }
  sleep 0.5
done
for i in $(seq 0 $((N - 1))); do
  until "$RINGCTL" --host "$(rk_admin "$i")" health >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { echo "ringd did not form" >&2; exit 1; }
    sleep 0.5
  done
done
sleep 5  # whatever formation left in flight
app_bytes() {
  local total=0
  for i in $(seq 0 $((N - 1))); do
    v=$(exec 3<>"/dev/tcp/127.0.0.1/$((BASE + 3 * N + i))"
        printf 'GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n' >&3
        grep '^ringkeeper_gossip_bytes_out_total ' <&3 | cut -d' ' -f2)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
APP0=$(app_bytes)
iptables -Z RK_COUNT
sleep "$SECONDS_WINDOW"
COUNTS="$(iptables -L RK_COUNT -v -x -n)"
APP1=$(app_bytes)
SERF_BYTES=$(echo "$COUNTS" | awk '/serf/ {s += $2} END {print s + 0}')
RK_BYTES=$(echo "$COUNTS" | awk '/ringkeeper/ {s += $2} END {print s + 0}')
SERF_RATE=$(echo "scale=1; $SERF_BYTES / $N / $SECONDS_WINDOW" | bc)
RK_RATE=$(echo "scale=1; $RK_BYTES / $N / $SECONDS_WINDOW" | bc)
APP_RATE=$(echo "scale=1; ($APP1 - $APP0) / $N / $SECONDS_WINDOW" | bc)
RATIO=$(echo "scale=3; $RK_BYTES / $SERF_BYTES" | bc)
printf '{"nodes": %d, "seconds": %d, "serf_bytes_per_node_per_s": %s, "ringkeeper_bytes_per_node_per_s": %s, "ratio": %s, "ringkeeper_frame_bytes_per_node_per_s": %s}\n' \
  "$N" "$SECONDS_WINDOW" "$SERF_RATE" "$RK_RATE" "$RATIO" "$APP_RATE"
