#!/usr/bin/env bash
# tools/bench_vs_serf.sh [--nodes N] [--runs R] [--build DIR] [--poll-ms MS] [--fault kill|stop|cut]
# Side by side on loopback, in one run: N real Serf agents (Debian package `serf`, default LAN
# profile) and N ringd nodes (default settings). Both sides are polled the same way by
# member_poller (tests/bench): one thread per member, one query every POLL seconds (Serf's
# msgpack RPC `members`; ringd's admin HTTP /v1/status), no process spawned per poll.
#   join:   one side after the other: member 0 first (a Serf agent whose -join fails exits),
#           then from starting the other N-1 at once until every member lists all N up/alive.
#   detect: one member of each side (the last) fails at the same moment; time until every live
#           member lists its side's victim as down/failed. How it fails (--fault):
#             kill (default) SIGKILL: the kernel refuses connections to its ports at once.
#             stop           SIGSTOP (a hung process): connects still land in the listen
#                            backlog and UDP datagrams queue, but nothing is ever answered.
#                            At the end of the run it gets SIGCONT, then SIGKILL.
#             cut            the victim keeps running, isolated by iptables DROP rules on lo:
#                            everything sent to or from its member port (ringd: gossip TCP;
#                            Serf: bind port, UDP and TCP), and everything the victim sends at
#                            all (its outbound TCP connections leave from ephemeral ports, so a
#                            port rule alone would let them through) — for that the victims
#                            run under a uid of their own, matched with `-m owner`. Needs root
#                            and a usable iptables. All rules go in at once (iptables-restore
#                            --noflush), carry the comment rk-bench-<pid> and are removed at
#                            the end of each run and by the exit trap (also on error, Ctrl-C).
#           False downs: any other member seen down/failed by any poll, or marked so in the
#           members' own logs (ringd "is down", Serf "EventMemberFailed"/"EventMemberLeave");
#           the victim's own log counts only up to the fault (a cut victim that then marks
#           everyone else down is right to). Seeing the victim suspect is never a false down.
# Prints one JSON line per run (fault mode included). Installs serf if missing. KEEP=1 keeps the
# work dir: per run, every member's log and fault.txt (mode, time of the fault).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"
N=10
RUNS=3
POLL_MS=100
FAULT=kill
usage() { echo "usage: $0 [--nodes N] [--runs R] [--build DIR] [--poll-ms MS] [--fault kill|stop|cut]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) N=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --poll-ms) POLL_MS=$2; shift 2 ;;
    --fault) FAULT=$2; shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done
case "$FAULT" in kill|stop|cut) ;; *) echo "--fault must be kill, stop or cut (got '$FAULT')" >&2; usage ;; esac
RINGD="$BUILD/tools/ringd"
RINGCTL="$BUILD/tools/ringctl"
POLLER="$BUILD/tests/bench/member_poller"
if ! command -v serf >/dev/null; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q serf >/dev/null
fi

# --fault cut: the rules' comment, and a uid no running process has for the two victims (so
# `-m owner` matches exactly their sockets). Checked before anything starts.
TAG="rk-bench-$$"
CUT_UID=""
if [ "$FAULT" = cut ]; then
  cut_unusable() { echo "--fault cut: $1" >&2; exit 1; }
  [ "$(id -u)" -eq 0 ] || cut_unusable "needs root (iptables rules, victims under their own uid)"
  for c in iptables iptables-restore setpriv; do
    command -v "$c" >/dev/null || cut_unusable "'$c' not found"
  done
  for u in $(seq $((60000 + $$ % 4000)) 65000); do
    if ! ps -eo uid= | tr -d ' ' | grep -qx "$u" && ! getent passwd "$u" >/dev/null; then CUT_UID=$u; break; fi
  done
  [ -n "$CUT_UID" ] || cut_unusable "no free uid for the victims"
  # The exact kind of rule the cut uses (filter table, owner and comment matches), in and out.
  if ! err=$(iptables -w -I OUTPUT 1 -o lo -m owner --uid-owner "$CUT_UID" -m comment --comment "$TAG" -j DROP 2>&1); then
    cut_unusable "iptables is not usable here: $err"
  fi
  iptables -w -D OUTPUT -o lo -m owner --uid-owner "$CUT_UID" -m comment --comment "$TAG" -j DROP
fi
# Removes every rule carrying this run's comment (idempotent; safe when there are none).
remove_cut_rules() {
  [ "$FAULT" = cut ] || return 0
  local chain line
  for chain in INPUT OUTPUT; do
    iptables -w -S "$chain" 2>/dev/null | grep -E -- "--comment \"?$TAG\"? " | while read -r line; do
      read -ra rule <<<"${line#-A }"
      iptables -w -D "${rule[@]}" 2>/dev/null || echo "could not remove iptables rule: $line" >&2
    done
  done
}
# Ends every process of the run: a stopped one is continued first (then killed like the rest);
# then the cut, if any, is lifted (after the kill, so an isolated victim never rejoins).
end_processes() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  remove_cut_rules
}

WORK="$(mktemp -d /tmp/ringkeeper-vs-serf.XXXXXX)"
[ "$FAULT" != cut ] || chmod 711 "$WORK"  # the victims' own uid must reach its data dir
PIDS=()
cleanup() {
  end_processes || true
  remove_cut_rules || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

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
  V=$((N - 1))  # the victim on each side
  # --fault cut: the victims run under CUT_UID from the start, so every socket they ever open
  # (the listener, UDP, outbound connections) is matched by `-m owner --uid-owner`.
  as_victim() {
    if [ "$FAULT" = cut ] && [ "$1" -eq "$V" ]; then
      echo setpriv --reuid="$CUT_UID" --regid="$CUT_UID" --clear-groups --
    fi
  }
  if [ "$FAULT" = cut ]; then mkdir -p "$D/rk$V" && chown "$CUT_UID:$CUT_UID" "$D/rk$V"; fi
  # --- join, one side after the other (so neither pays for the other's process starts):
  # member 0 first (a Serf agent whose -join fails exits), then the other N-1 at once.
  start_serf() {
    $(as_victim "$1") serf agent -node="s$1" -bind="$(serf_bind "$1")" -rpc-addr="$(serf_rpc "$1")" \
      -join="$(serf_bind 0)" -log-level=info >"$D/serf$1.log" 2>&1 &
    PIDS+=($!)
    SERF_PID[$1]=$!
  }
  start_ringd() {
    $(as_victim "$1") "$RINGD" --data-dir "$D/rk$1" --listen "$(rk_gossip "$1")" --admin "$(rk_admin "$1")" \
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

  # --- fail one member of each side at the same moment --------------------------------------
  SERF_VICTIM="s$V"
  RK_VICTIM="$(rk_gossip "$V")"
  if [ "$FAULT" = cut ]; then
    # One atomic transaction: into both victims' member ports (and out of them), and every
    # packet the victims send on lo whatever its ports (owner match on their uid).
    CUT_PORTS=("$((BASE + 2 * N + V))" "$((BASE + V))")  # ringd gossip (TCP), Serf bind (UDP+TCP)
    RULES="*filter"$'\n'
    for port in "${CUT_PORTS[@]}"; do
      for proto in tcp udp; do
        for dir in --dport --sport; do
          RULES+="-I INPUT 1 -i lo -p $proto $dir $port -m comment --comment $TAG -j DROP"$'\n'
        done
      done
    done
    RULES+="-I OUTPUT 1 -o lo -m owner --uid-owner $CUT_UID -m comment --comment $TAG -j DROP"$'\n'
    RULES+="COMMIT"$'\n'
  fi
  T1NS=$(date +%s%N)
  case "$FAULT" in
    kill) kill -9 "${SERF_PID[$V]}" "${RK_PID[$V]}" ;;
    stop) kill -STOP "${SERF_PID[$V]}" "${RK_PID[$V]}" ;;
    cut)
      if ! err=$(printf '%s' "$RULES" | iptables-restore -w --noflush 2>&1); then
        echo "--fault cut: iptables-restore failed: $err" >&2
        exit 1
      fi ;;
  esac
  # The victims' logs count for false downs only up to here (see the top).
  RK_VLINES=$(wc -l <"$D/rk$V.log")
  SERF_VLINES=$(wc -l <"$D/serf$V.log")
  printf '%s %s %s\n' "$FAULT" "$T1NS" "$(date -d "@${T1NS:0:10}.${T1NS:10:3}" '+%F %T.%3N')" >"$D/fault.txt"
  DET=$("$POLLER" detect --since "$T1NS" --poll-ms "$POLL_MS" --serf "$(list serf_rpc 0 $((N - 2)))" \
    --ringd "$(list rk_admin 0 $((N - 2)))" --serf-victim "$SERF_VICTIM" --ringd-victim "$RK_VICTIM")
  SERF_DET=$(field "$DET" serf_s)
  RK_DET=$(field "$DET" ringkeeper_s)
  sleep 2  # a little longer, so a false down right after the detection would show in the logs
  # Every "marked down/failed" event in the members' own logs, other than about the victim.
  RK_VICTIM_ID=$(sed -n 's/.* node \([0-9a-f-]*\) generation .*/\1/p' "$D/rk$V.log" | head -1)
  serf_logs() { for k in $(seq 0 $((N - 2))); do cat "$D/serf$k.log"; done; head -n "$SERF_VLINES" "$D/serf$V.log"; }
  rk_logs() { for k in $(seq 0 $((N - 2))); do cat "$D/rk$k.log"; done; head -n "$RK_VLINES" "$D/rk$V.log"; }
  FALSE_SERF=$(( $(serf_logs | grep -E "EventMember(Failed|Leave)" | grep -vc "Failed: $SERF_VICTIM " || true) + $(field "$DET" false_downs_serf) ))
  FALSE_RK=$(( $(rk_logs | grep " is down" | grep -vc "$RK_VICTIM_ID" || true) + $(field "$DET" false_downs_ringkeeper) ))
  for v in "$SERF_JOIN" "$RK_JOIN" "$SERF_DET" "$RK_DET"; do
    if [ -z "$v" ] || [ "$v" = "-1" ] || [ "${v#-}" != "$v" ]; then
      echo "run $run failed (a member never reached the condition; see the logs in $D)" >&2
      KEEP=1
      end_processes
      continue 2
    fi
  done
  RATIO=$(echo "scale=3; $RK_DET / $SERF_DET" | bc)
  JRATIO=$(echo "scale=3; $RK_JOIN / $SERF_JOIN" | bc)
  printf '{"fault": "%s", "nodes": %d, "run": %d, "serf_join_s": %.2f, "ringkeeper_join_s": %.2f, "join_ratio": %s, "serf_detect_s": %.2f, "ringkeeper_detect_s": %.2f, "detect_ratio": %s, "false_downs_serf": %d, "false_downs_ringkeeper": %d}\n' \
    "$FAULT" "$N" "$run" "$SERF_JOIN" "$RK_JOIN" "$JRATIO" "$SERF_DET" "$RK_DET" "$RATIO" "$FALSE_SERF" "$FALSE_RK"
  end_processes
done
