#!/usr/bin/env bash
# sim.sh — shared by the simulator checks (sim_raft.sh, sim_paxos.sh, sim_wal.sh,
# sim_groups.sh): runs chorus-sim once and fails unless the run really exercised what the
# check is for. A summary
# with "violations: 0" alone proves nothing: the run must also have exited 0, run exactly
# the seeds asked for, committed, elected, crashed nodes, checked client operations, installed
# snapshots and decided every history (lincheck unknown: 0); callers may require more of the
# "per seed" line (torn writes for --storage wal, groups with client operations for
# --groups). sim_expect_violations runs a planted bug (--plant) and fails unless the checks
# caught it. Sourced; sets SIM_STATUS to 1 on a failure.
# Not a check itself: tests/run.sh runs tests/checks/*.sh only, not this subdirectory.

SIM=${BUILD:-build}/bin/chorus-sim
SIM_STATUS=0

# sim_number TEXT REGEX — the number REGEX (with one group around it) finds in TEXT, or "".
sim_number() { printf '%s\n' "$1" | sed -nE "s/.*$2.*/\\1/p" | head -n 1; }

# sim_require LABEL WHAT VALUE OP LIMIT — records a failure unless VALUE OP LIMIT (awk,
# so VALUE may be fractional); an empty VALUE (not printed) fails too.
sim_require() {
    local label=$1 what=$2 value=$3 op=$4 limit=$5
    if [ -z "$value" ] || ! awk -v v="$value" -v l="$limit" "BEGIN { exit !(v $op l) }"; then
        echo "$label: FAIL: $what is '${value:-missing}', want $op $limit"
        SIM_STATUS=1
    fi
}

# sim_run LABEL SEEDS EXTRA_REQUIREMENTS -- CHORUS_SIM_ARGS... — runs chorus-sim with
# --seeds SEEDS and the arguments; EXTRA_REQUIREMENTS is a space-separated list of per-seed
# fields ("torn_writes torn_tails") that must be above zero as well; FIELD>=N asks for at least
# N instead (groups_ops>=3.5: on average 3.5 groups per seed saw client operations return;
# groups_writes: groups where client writes committed; beat_records, beat_messages: coalesced
# heartbeat records and the messages that carried them, with more than one group;
# membership_changes, membership_committed: with --membership, configuration changes leaders
# accepted and configuration entries committed; kv_commands, kv_compared: with --kv-store,
# real store commands applied and replica pairs compared at the seeds' ends; no_snapshots:
# the run takes none (--kv-store), so installs are not required).
sim_run() {
    local label=$1 seeds=$2 extra=$3; shift 4
    local out rc summary per field v
    if [ ! -x "$SIM" ]; then echo "$label: FAIL: $SIM not built"; SIM_STATUS=1; return; fi
    out=$("$SIM" --seeds "$seeds" "$@" 2>&1); rc=$?
    summary=$(printf '%s\n' "$out" | tail -n 1)
    per=$(printf '%s\n' "$out" | grep -E '^per seed:' | tail -n 1)
    printf '%s\n' "$out" | grep -E '^seed [0-9]+: VIOLATION|^  replay:|^chorus-sim: ' | head -n 20
    echo "chorus-sim --seeds $seeds $*:"
    echo "  $per"
    echo "  $summary"
    [ "$rc" = 0 ] || { echo "$label: FAIL: chorus-sim exited $rc"; SIM_STATUS=1; }
    sim_require "$label" "seeds run" "$(sim_number "$summary" '^seeds: ([0-9]+),')" == "$seeds"
    sim_require "$label" "violations" "$(sim_number "$summary" 'violations: ([0-9]+),')" == 0
    sim_require "$label" "commits" "$(sim_number "$summary" 'commits: ([0-9]+),')" '>=' "$seeds"
    sim_require "$label" "elections" "$(sim_number "$summary" 'elections: ([0-9]+),')" '>=' "$seeds"
    sim_require "$label" "crashes per seed" "$(sim_number "$per" 'crashes ([0-9.]+),')" '>' 0
    sim_require "$label" "client operations per seed" "$(sim_number "$per" ', ops ([0-9.]+) ')" '>' 0
    case " $extra " in
        *' no_snapshots '*) ;;
        *) sim_require "$label" "snapshots installed per seed" \
               "$(sim_number "$per" 'snapshots installed ([0-9.]+);')" '>' 0 ;;
    esac
    sim_require "$label" "histories lincheck could not decide" \
        "$(sim_number "$per" 'lincheck unknown: ([0-9]+);')" == 0
    for field in $extra; do
        local op='>' limit=0
        case $field in
            *'>='*) op='>='; limit=${field#*>=}; field=${field%%>=*} ;;
        esac
        case $field in
            torn_writes) v=$(sim_number "$per" 'torn writes ([0-9.]+),') ;;
            torn_tails) v=$(sim_number "$per" 'torn tails truncated ([0-9.]+);') ;;
            groups_ops) v=$(sim_number "$per" 'with client ops ([0-9.]+),') ;;
            groups_writes) v=$(sim_number "$per" 'with client writes committed ([0-9.]+),') ;;
            beat_records) v=$(sim_number "$per" 'heartbeat records ([0-9.]+) in') ;;
            beat_messages) v=$(sim_number "$per" 'in ([0-9.]+) messages;') ;;
            membership_changes) v=$(sim_number "$per" 'membership changes ([0-9.]+),') ;;
            membership_committed) v=$(sim_number "$per" 'configurations committed ([0-9.]+);') ;;
            kv_commands) v=$(sim_number "$per" 'kv store commands ([0-9.]+),') ;;
            kv_compared) v=$(sim_number "$per" 'stores compared at the end ([0-9.]+);') ;;
            no_snapshots) continue ;;
            *) echo "$label: FAIL: unknown requirement '$field'"; SIM_STATUS=1; continue ;;
        esac
        sim_require "$label" "$field per seed" "$v" "$op" "$limit"
    done
}

# sim_expect_violations LABEL SEEDS MIN PATTERN -- CHORUS_SIM_ARGS... — a negative check: runs
# chorus-sim (with a --plant among the arguments) and fails unless it exits 1 with at least MIN
# seeds violating ("all": every seed), and every violation's message matches the extended
# regular expression PATTERN (the check meant to catch the bug is the one that did).
sim_expect_violations() {
    local label=$1 seeds=$2 min=$3 pattern=$4; shift 5
    local out rc summary violations lines unexpected
    if [ ! -x "$SIM" ]; then echo "$label: FAIL: $SIM not built"; SIM_STATUS=1; return; fi
    out=$("$SIM" --seeds "$seeds" "$@" 2>&1); rc=$?
    summary=$(printf '%s\n' "$out" | tail -n 1)
    lines=$(printf '%s\n' "$out" | grep -E '^seed [0-9]+: VIOLATION ')
    echo "chorus-sim --seeds $seeds $* (a planted bug):"
    echo "  $summary"
    printf '%s\n' "$lines" | sed -E 's/^seed [0-9]+: VIOLATION ([^:]*: [^:]*):.*/\1/' | sort |
        uniq -c | head -n 5 | sed 's/^/  /'
    [ "$rc" = 1 ] || { echo "$label: FAIL: chorus-sim exited $rc, want 1 (violations)"; SIM_STATUS=1; }
    [ "$min" = all ] && min=$seeds
    sim_require "$label" "seeds run" "$(sim_number "$summary" '^seeds: ([0-9]+),')" == "$seeds"
    violations=$(sim_number "$summary" 'violations: ([0-9]+),')
    sim_require "$label" "seeds that caught the planted bug" "$violations" '>=' "$min"
    unexpected=$(printf '%s\n' "$lines" | grep -vE "^seed [0-9]+: VIOLATION ($pattern)" | grep -c .)
    if [ "$unexpected" != 0 ]; then
        echo "$label: FAIL: $unexpected violations are not '$pattern':"
        printf '%s\n' "$lines" | grep -vE "^seed [0-9]+: VIOLATION ($pattern)" | head -n 3
        SIM_STATUS=1
    fi
}
