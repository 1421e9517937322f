#!/usr/bin/env bash
# run.sh — one chaos run on real chorusd processes (issue 13). As root.
#
#   tests/chaos/run.sh [--protocol raft|paxos] [--nodes 3|5] [--seed N] [--seconds S]
#                      [--nemesis all|NAME,NAME...] [--alone] [--clients C] [--keys K]
#                      [--pipeline-clients P] [--out DIR] [--results FILE]
#
# N chorusd, each in its own network namespace on a private bridge (tests/chaos/net.sh); from a
# clients' namespace, `chorus bench --workload all` (get/set/cas/del on K registers, incr on K
# counters, every operation recorded for chorus-lincheck) and `chorus-chaos pipeline` (clients
# that pipeline commands, MSET/MGET within one hash slot among them, and check every reply
# against the commands before it). Meanwhile a seeded schedule applies nemeses
# (tests/chaos/nemesis.sh) one at a time, or a network fault together with a process or disk
# fault (the default; --alone: one at a time), each held 1-4 s, then healed.
# At the end: everything healed, every node restarted, a leader elected and every node caught
# up; every key read through every node into the history (chorus-chaos readall); the whole
# history checked by chorus-lincheck. One line is printed (and appended to --results):
#   chaos raft n=3 seed=7 30s nemesis=all: ops N ok N failed N unknown N faults N ... verdict V
# The run fails (exit 1) on a verdict other than linearizable, a pipeline mismatch, a node that
# exited on its own (an assert, a crash: its log tail is printed; exit 2 after an injected EIO
# is expected), a node that cannot serve reads after the heal, or a run in which too little
# happened (too few operations succeeded, no fault applied). A failed run's history, logs and
# schedule are kept in --out (default $BUILD/chaos/failed/<protocol>-n<N>-seed<S>).
#
# CHAOS_KEEP=1 keeps them after a passing run too.
# CHAOS_PLANT=NAME builds chorusd with -DCHORUS_PLANT_NAME into build-plant-<name> and runs it
# (a planted bug the run must catch: see docs/testing.md). Exit: 0 pass, 1 fail, 2 setup error.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
PROTOCOL=raft; NODES=3; SEED=1; RUN_SECONDS=30; NEMESIS=all; COMBINED=1
CLIENTS=8; PIPELINE_CLIENTS=2; KEYS=4; OUT=""; RESULTS=""
usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --protocol) PROTOCOL=$2; shift ;;
        --nodes) NODES=$2; shift ;;
        --seed) SEED=$2; shift ;;
        --seconds) RUN_SECONDS=$2; shift ;;
        --nemesis) NEMESIS=$2; shift ;;
        --alone) COMBINED=0 ;;
        --clients) CLIENTS=$2; shift ;;
        --keys) KEYS=$2; shift ;;
        --pipeline-clients) PIPELINE_CLIENTS=$2; shift ;;
        --out) OUT=$2; shift ;;
        --results) RESULTS=$2; shift ;;
        -h|--help) usage ;;
        *) echo "chaos: unknown option $1" >&2; usage ;;
    esac
    shift
done
die() { echo "chaos: $*" >&2; exit 2; }
case $PROTOCOL in raft|paxos) ;; *) die "--protocol raft or paxos" ;; esac
case $NODES in 3|5) ;; *) die "--nodes 3 or 5" ;; esac
[[ $SEED =~ ^[0-9]+$ ]] && [ "$SEED" -lt 1000000000 ] || die "--seed: a number below 10^9"
[[ $RUN_SECONDS =~ ^[0-9]+$ ]] && [ "$RUN_SECONDS" -ge 5 ] && [ "$RUN_SECONDS" -le 86400 ] || die "--seconds: 5..86400"
[[ $CLIENTS =~ ^[0-9]+$ ]] && [ "$CLIENTS" -ge 1 ] && [ "$CLIENTS" -le 200 ] || die "--clients: 1..200"
[[ $PIPELINE_CLIENTS =~ ^[0-9]+$ ]] && [ "$PIPELINE_CLIENTS" -le 64 ] || die "--pipeline-clients: 0..64"
[[ $KEYS =~ ^[0-9]+$ ]] && [ "$KEYS" -ge 1 ] && [ "$KEYS" -le 1000 ] || die "--keys: 1..1000"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, iptables, strace)"
OUT=${OUT:-$BUILD/chaos/failed/$PROTOCOL-n$NODES-seed$SEED-${NEMESIS//,/+}$([ $COMBINED = 0 ] && echo -alone)}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac

# Debian packages this harness needs; installed when missing (make deps should list them).
need() { command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null 2>&1 || die "cannot install $2"; }
need ip iproute2; need iptables iptables; need strace strace; need redis-cli redis-tools

if [ -n "${CHAOS_PLANT:-}" ]; then
    [[ $CHAOS_PLANT =~ ^[A-Z0-9_]+$ ]] || die "CHAOS_PLANT: upper-case letters, digits, _"
    BUILD=build-plant-$(echo "$CHAOS_PLANT" | tr 'A-Z_' 'a-z-')
    make --no-print-directory BUILD="$BUILD" EXTRA_CFLAGS="-DCHORUS_PLANT_$CHAOS_PLANT" build-all \
        >"/tmp/chaos-plant-build.$$.log" 2>&1 || die "plant build failed: /tmp/chaos-plant-build.$$.log"
    rm -f "/tmp/chaos-plant-build.$$.log"
fi
BIN=$ROOT/$BUILD/bin
for b in chorusd chorus chorus-chaos chorus-lincheck; do [ -x "$BIN/$b" ] || die "$BIN/$b missing: make first"; done

. tests/chaos/net.sh
. tests/chaos/nemesis.sh

ENABLED=""
if [ "$NEMESIS" = all ]; then ENABLED=$NEMESES_ALL; else
    for n in ${NEMESIS//,/ }; do
        case " $NEMESES_ALL $NEMESES_FUTURE " in *" $n "*) ENABLED="$ENABLED $n" ;; *) die "unknown nemesis $n" ;; esac
        case " $NEMESES_FUTURE " in *" $n "*) "nemesis_${n//-/_}"; exit 2 ;; esac
    done
fi

# The nodes give up on a request after REQUEST_TIMEOUT_MS and say what the client may assume
# (-UNKNOWN or -TRYAGAIN); the clients wait longer than that, so that they hear it rather than
# time out first and record every such request as unknown.
REQUEST_TIMEOUT_MS=2000
CLIENT_TIMEOUT_MS=3000
WORK=$(mktemp -d /tmp/chorus-chaos.XXXXXX)
HISTORY=$WORK/history.jsonl
PREFIX="s$SEED.$$."
declare -A NODE_PID
FAULTS=0; CRASHED=""; FINAL=""; control="not run"
log_event() { echo "$(date +%T.%N | cut -c1-12) $*" >>"$WORK/schedule.log"; }
rand() { R=$((RANDOM % $1)); }

cleanup() {
    local i
    exec 2>/dev/null # bash's "Killed" notices about the processes killed below
    [ -n "$HEAL_STRACE_PID" ] && kill -9 "$HEAL_STRACE_PID" 2>/dev/null
    for p in ${BENCH_PID:-} ${QUEUE_PID:-} ${SETS_PID:-} ${PIPE_PID:-}; do kill -9 "$p" 2>/dev/null; done
    for i in "${!NODE_PID[@]}"; do
        [ -n "${NODE_PID[$i]}" ] && { kill -CONT "${NODE_PID[$i]}"; kill -9 "${NODE_PID[$i]}"; } 2>/dev/null
    done
    wait 2>/dev/null
    net_destroy
    if [ "$FINAL" != pass ] || [ "${CHAOS_KEEP:-0}" = 1 ]; then
        mkdir -p "$OUT"
        (cd "$WORK" && cp -- *.log *.out *.jsonl "$OUT/" 2>/dev/null)
        echo "chaos: history, logs and schedule kept in $OUT (replay: tests/chaos/run.sh --protocol $PROTOCOL --nodes $NODES --seed $SEED --seconds $RUN_SECONDS --nemesis $NEMESIS$([ $COMBINED = 0 ] && echo ' --alone'))"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "chaos: interrupted"; exit 130' INT TERM

SPEC=""; NODE_LIST=""
for i in $(seq 1 "$NODES"); do
    SPEC="$SPEC${SPEC:+,}$i=$(node_ip "$i"):$CHX_PEER_PORT"
    NODE_LIST="$NODE_LIST${NODE_LIST:+,}$(node_ip "$i"):$CHX_CLIENT_PORT"
done

node_cli() { local i=$1; shift; timeout 5 ip netns exec "$(net_ns cl)" redis-cli -h "$(node_ip "$i")" -p "$CHX_CLIENT_PORT" "$@" 2>/dev/null | tr -d '\r'; }
node_alive() { [ -n "${NODE_PID[$1]:-}" ] && kill -0 "${NODE_PID[$1]}" 2>/dev/null; }
node_info() { node_cli "$1" info chorus | sed -n "s/^$2://p"; }
node_leader() {
    local i
    for i in $(seq 1 "$NODES"); do
        node_alive "$i" && [ "$(node_info "$i" role)" = leader ] && { echo "$i"; return 0; }
    done
    return 1
}

# node_start I: starts node I in its namespace and waits (10 s at most) until it answers PING.
node_start() {
    local i=$1 t
    # Not through a shell function: `f &` forks a subshell, and $! would not be chorusd.
    ip netns exec "$(net_ns "n$i")" "$BIN/chorusd" --id "$i" --cluster "$SPEC" --protocol "$PROTOCOL" \
        --data-dir "$WORK/node$i" --listen "$(node_ip "$i"):$CHX_CLIENT_PORT" \
        --peer-listen "$(node_ip "$i"):$CHX_PEER_PORT" --request-timeout-ms "$REQUEST_TIMEOUT_MS" --shards 1 --protected-mode no \
        >>"$WORK/node$i.log" 2>&1 &
    NODE_PID[$i]=$!
    log_event "start node $i (pid ${NODE_PID[$i]})"
    for t in $(seq 1 100); do
        [ "$(node_cli "$i" ping)" = PONG ] && return 0
        node_alive "$i" || break
        sleep 0.1
    done
    nodes_check_exits
    CRASHED="${CRASHED}node $i did not start; "
    return 1
}

# A node that exited while nobody killed it: fine only after an injected fdatasync EIO, with
# exit 2 and the node's own "WAL write/fdatasync failed, stopping" (a node that went on and
# died later of another error did not stop at once); anything else (an assert's SIGABRT, a
# segfault, SIGPIPE) fails the run.
nodes_check_exits() {
    local i rc
    for i in $(seq 1 "$NODES"); do
        [ -n "${NODE_PID[$i]:-}" ] || continue
        kill -0 "${NODE_PID[$i]}" 2>/dev/null && continue
        wait "${NODE_PID[$i]}"; rc=$?
        NODE_PID[$i]=""
        if [ "$i" = "$DISK_FAIL_NODE" ] && [ "$rc" = 2 ] && grep -q "fdatasync failed, stopping" "$WORK/node$i.log"; then
            log_event "node $i stopped on the injected EIO (exit 2), as it must"
            continue
        fi
        log_event "node $i EXITED ON ITS OWN, status $rc"
        CRASHED="${CRASHED}node $i exit $rc; "
    done
}

# hold SECONDS: waits while a fault is on, watching for nodes that die.
hold() {
    local end=$(( $(date +%s%N) + $1 * 1000000 ))
    while [ "$(date +%s%N)" -lt "$end" ]; do sleep 0.2; nodes_check_exits; done
}

pick_nemesis() {  # sets NEM to one enabled nemesis of the given category list ("" = any)
    local pool=() n
    for n in $ENABLED; do case " $1 " in *" $n "*) pool+=("$n") ;; esac; done
    NEM=""; [ ${#pool[@]} -gt 0 ] && { rand ${#pool[@]}; NEM=${pool[$R]}; }
}

schedule() {
    local end=$((SECONDS + RUN_SECONDS)) first second
    while [ $SECONDS -lt "$end" ] && [ -z "$CRASHED" ]; do
        rand 10; hold $((500 + R * 100))
        first=""; second=""
        if [ "$COMBINED" = 1 ]; then
            pick_nemesis "$NEMESES_NET"; first=$NEM
            pick_nemesis "$NEMESES_PROC $NEMESES_DISK"; second=$NEM
            rand 3; [ "$R" = 0 ] && { [ -n "$first" ] && [ -n "$second" ]; } && { rand 2; [ "$R" = 0 ] && first="" || second=""; }
        else
            pick_nemesis "$ENABLED"; first=$NEM
        fi
        for n in $first $second; do
            nemesis_apply "$n" || { log_event "SCHEDULE: nemesis $n could not be applied"; return 1; }
        done
        rand 30; hold $((1000 + R * 100))
        nemesis_heal_all || { log_event "SCHEDULE: the heal failed"; return 1; }
    done
}

# ---- the run ------------------------------------------------------------------------------
net_reap_stale
net_create "$NODES" || die "network setup failed"
for i in $(seq 1 "$NODES"); do node_start "$i" || { echo "chaos: setup: node $i did not start"; tail -20 "$WORK/node$i.log"; exit 2; }; done
RANDOM=$SEED
log_event "run: $PROTOCOL n=$NODES seed=$SEED ${RUN_SECONDS}s nemesis=$NEMESIS combined=$COMBINED"

ip netns exec "$(net_ns cl)" "$BIN/chorus" bench -c "$CLIENTS" -t "$RUN_SECONDS" -k "$KEYS" -d 0 --workload all \
    --read-ratio 0.4 --timeout "$CLIENT_TIMEOUT_MS" --nodes "$NODE_LIST" --history "$HISTORY" --seed "$SEED" \
    --key-prefix "$PREFIX" >"$WORK/bench.out" 2>&1 &
BENCH_PID=$!
# Lists used as queues and sets (issue 17), each in a history of its own: RPUSH/LPOP/BLPOP with
# every list drained at the end, SADD/SREM/SISMEMBER; chorus-lincheck's queue and set models.
ip netns exec "$(net_ns cl)" "$BIN/chorus" bench -c 2 -t "$RUN_SECONDS" -k 2 --workload queue \
    --timeout "$CLIENT_TIMEOUT_MS" --nodes "$NODE_LIST" --history "$WORK/queue.jsonl" --seed "$SEED" \
    --key-prefix "${PREFIX}Q." >"$WORK/queue.out" 2>&1 &
QUEUE_PID=$!
ip netns exec "$(net_ns cl)" "$BIN/chorus" bench -c 2 -t "$RUN_SECONDS" -k 2 --workload sets \
    --read-ratio 0.4 --timeout "$CLIENT_TIMEOUT_MS" --nodes "$NODE_LIST" --history "$WORK/sets.jsonl" \
    --seed "$SEED" --key-prefix "${PREFIX}S." >"$WORK/sets.out" 2>&1 &
SETS_PID=$!
if [ "$PIPELINE_CLIENTS" -gt 0 ]; then
    ip netns exec "$(net_ns cl)" "$BIN/chorus-chaos" pipeline -c "$PIPELINE_CLIENTS" -t "$RUN_SECONDS" \
        --depth 8 --nodes "$NODE_LIST" --prefix "$PREFIX" --seed "$SEED" --timeout "$CLIENT_TIMEOUT_MS" \
        >"$WORK/pipeline.out" 2>&1 &
    PIPE_PID=$!
else
    echo "pipeline: none" >"$WORK/pipeline.out"
fi

schedule; schedule_rc=$?
nemesis_heal_all || CRASHED="${CRASHED}heal failed; "
wait "$BENCH_PID"; bench_rc=$?; BENCH_PID=""
wait "$QUEUE_PID"; queue_rc=$?; QUEUE_PID=""
wait "$SETS_PID"; sets_rc=$?; SETS_PID=""
pipe_rc=0; [ -n "${PIPE_PID:-}" ] && { wait "$PIPE_PID"; pipe_rc=$?; PIPE_PID=""; }
# A node that died at the very end (a crash is already recorded) is restarted too, so that
# the final reads still go through every node.
nodes_check_exits
for i in $(seq 1 "$NODES"); do node_alive "$i" || node_start "$i" || true; done

verdict=""; reasons=""
add_reason() { reasons="$reasons${reasons:+; }$*"; }
[ "$schedule_rc" = 0 ] || add_reason "the schedule failed: $(grep SCHEDULE "$WORK/schedule.log" | tail -1)"
[ "$bench_rc" = 0 ] || add_reason "chorus bench exited $bench_rc"
[ "$queue_rc" = 0 ] || add_reason "chorus bench --workload queue exited $queue_rc"
[ "$sets_rc" = 0 ] || add_reason "chorus bench --workload sets exited $sets_rc"
[ "$pipe_rc" = 0 ] || add_reason "pipeline check: exit $pipe_rc"

# Heal is done: a leader within 30 s, every node applied the leader's commit index within 30 s.
caught_up=0
heal_deadline=$((SECONDS + 30))
while [ $SECONDS -lt $heal_deadline ]; do
    if leader=$(node_leader); then
        commit=$(node_info "$leader" commit_index); caught_up=1
        for i in $(seq 1 "$NODES"); do
            [ "$(node_info "$i" applied_index)" -ge "${commit:-0}" ] 2>/dev/null || caught_up=0
        done
        [ "$caught_up" = 1 ] && break
    fi
    sleep 0.1
done
[ "$caught_up" = 1 ] || add_reason "no leader, or a node did not catch up within 30 s of the heal"

in_clients "$BIN/chorus-chaos" readall --nodes "$NODE_LIST" --prefix "$PREFIX" -k "$KEYS" \
    --history "$HISTORY" --client-id 900000000 --deadline 60 --timeout 2000 >"$WORK/readall.out" 2>&1 \
    || add_reason "final reads: $(tail -2 "$WORK/readall.out" | tr '\n' ' ')"
nodes_check_exits

timeout 600 "$BIN/chorus-lincheck" --timeout 300 "$HISTORY" >"$WORK/lincheck.out" 2>&1; lin_rc=$?
case $lin_rc in 0) verdict=linearizable ;; 1) verdict=NOT-linearizable ;; 2) verdict=unknown ;; *) verdict="checker-error-$lin_rc" ;; esac
[ "$lin_rc" = 0 ] || add_reason "chorus-lincheck: $verdict"

# The checker must be able to fail on this very history: one final read (written by readall,
# client ids from 900000000) changed to a value nobody wrote must be rejected.
if [ "$lin_rc" = 0 ]; then
    awk 'done != 1 && /"client":9000000/ { sub(/"output":("[^"]*"|null)}/, "\"output\":\"never-written\"}"); done = 1 } { print }' \
        "$HISTORY" >"$WORK/control.jsonl"
    timeout 120 "$BIN/chorus-lincheck" --timeout 60 --memory-mb 512 "$WORK/control.jsonl" >"$WORK/control.out" 2>&1
    control_rc=$?
    rm -f "$WORK/control.jsonl"
    # Exit 2: the checker gave up (time or memory) on the corrupted copy; that is a limit of
    # the checker, reported on the result line, not a verdict on chorusd.
    case $control_rc in
        1) control="rejected" ;;
        2) control="undecided"; echo "chaos: control: chorus-lincheck could not decide the corrupted copy: $(head -1 "$WORK/control.out")" ;;
        *) control="accepted"; add_reason "control: a corrupted final read was not rejected (exit $control_rc)" ;;
    esac
fi

# The queue and set histories: linearizable, with elements delivered (or the check saw nothing).
collections=""
for c in queue sets; do
    timeout 300 "$BIN/chorus-lincheck" --timeout 120 "$WORK/$c.jsonl" >"$WORK/$c.lincheck" 2>&1; c_rc=$?
    case $c_rc in 0) c_verdict=linearizable ;; 1) c_verdict=NOT-linearizable ;; 2) c_verdict=unknown ;; *) c_verdict="checker-error-$c_rc" ;; esac
    collections="$collections${collections:+, }$c $(wc -l <"$WORK/$c.jsonl") $c_verdict"
    [ "$c_rc" = 0 ] || { add_reason "chorus-lincheck on the $c history: $c_verdict"; head -10 "$WORK/$c.lincheck"; }
done
delivered=$(grep -c '"op":"pop".*"output":"' "$WORK/queue.jsonl")
[ "$delivered" -ge "$RUN_SECONDS" ] || add_reason "only $delivered queue elements delivered"

ops=$(wc -l <"$HISTORY")
unknown=$(grep -c '"return":null' "$HISTORY")
ok=$(sed -n 's/^throughput: \([0-9]*\) ok.*/\1/p' "$WORK/bench.out"); ok=${ok:-0}
errs=$(sed -n 's/^errors: [0-9]* (\(.*\)); connect failures \([0-9]*\)/\1, connect \2/p' "$WORK/bench.out")
failed=$(echo "$errs" | tr ',' '\n' | awk '/tryagain|busy|not-sent|connect/ {s += $NF} END {print s + 0}')
pipeline=$(sed -n 's/^pipeline: //p' "$WORK/pipeline.out" | sed 's/.*checked \([0-9]*\).*violations \([0-9]*\)/checked \1, violations \2/')
[ "$ok" -ge $((RUN_SECONDS * 5)) ] || add_reason "only $ok operations succeeded: the cluster did not make progress"
[ "$FAULTS" -ge 1 ] || add_reason "no fault was applied"
grep -q '^VIOLATION' "$WORK/pipeline.out" && add_reason "pipeline: $(grep -m1 '^VIOLATION' "$WORK/pipeline.out")"
if [ -n "$CRASHED" ]; then
    reasons="crash: ${CRASHED%; }${reasons:+; }$reasons"; verdict="CRASH/$verdict" # first: the worst
    for i in $(seq 1 "$NODES"); do
        grep -q "node $i EXITED\|node $i did not start" "$WORK/schedule.log" && { echo "== node $i log tail"; tail -25 "$WORK/node$i.log"; }
    done
fi
kinds=""; for k in "${!FAULT_COUNT[@]}"; do kinds="$kinds${kinds:+ }$k:${FAULT_COUNT[$k]}"; done
line="chaos $PROTOCOL n=$NODES seed=$SEED ${RUN_SECONDS}s nemesis=$NEMESIS$([ $COMBINED = 0 ] && echo ' alone'): ops $ops, ok $ok, failed $failed, unknown $unknown, faults $FAULTS ($kinds), pipeline ${pipeline:-none}, verdict $verdict, control $control, collections ($collections)"
[ -z "$reasons" ] && FINAL=pass
echo "$line"
if [ -n "$RESULTS" ]; then
    short=${reasons:-ok}; [ ${#short} -gt 140 ] && short="${short:0:137}..."
    echo "| $PROTOCOL | $NODES | $SEED | $RUN_SECONDS | $NEMESIS$([ $COMBINED = 0 ] && echo ' (alone)') | $ops | $ok | $failed | $unknown | $FAULTS | ${pipeline:-none} | $verdict (control $control) | ${short//|/\\|} |" >>"$RESULTS"
fi
if [ "$FINAL" != pass ]; then
    echo "chaos: FAILED: $reasons"
    head -20 "$WORK/lincheck.out"
    grep -m5 '^VIOLATION' -A1 "$WORK/pipeline.out"
    exit 1
fi
exit 0
