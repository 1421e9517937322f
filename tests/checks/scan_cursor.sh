#!/usr/bin/env bash
# timeout: 120
# scan_cursor.sh — SCAN's cursors are stateless (issue 15, bug 6): one iteration whose calls
# go to the leader, to a follower, to another follower, and continue after every node was
# restarted, returns every key present throughout; a cursor no node ever handed out
# (18446744073709551615) is accepted; SCAN ... TYPE string returns the keys, TYPE list none;
# a MATCH pattern beyond the bound gets a clear error, not a storage failure.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
KEYS_TOTAL=3000
cluster_start 3 || fail "cluster start"
wait_leader >/dev/null || fail "no leader"
for i in $(seq 1 "$KEYS_TOTAL"); do echo "SET scan:$i v"; done | cli_load 1 || fail "load"
# scan_step NODE CURSOR: one SCAN call; prints the next cursor, appends the keys to keys.txt.
scan_step() {
    local out
    out=$(cli "$1" scan "$2" count 200) || return 1
    echo "$out" | tail -n +2 >>"$CLUSTER_DIR/keys.txt"
    echo "$out" | head -1
}
: >"$CLUSTER_DIR/keys.txt"
cursor=0 calls=0 restarted=0
while :; do
    node=$((calls % 3 + 1))
    cursor=$(scan_step "$node" "$cursor") || fail "SCAN on node $node failed"
    calls=$((calls + 1))
    [ "$cursor" = 0 ] && break
    [ "$calls" -lt 1000 ] || fail "SCAN did not end after $calls calls"
    if [ "$calls" = 5 ]; then
        for i in 1 2 3; do node_stop "$i"; done
        for i in 1 2 3; do node_start "$i" || fail "restart $i"; done
        wait_leader >/dev/null || fail "no leader after the restart"
        restarted=1
    fi
done
[ "$restarted" = 1 ] || fail "the iteration ended before the restart ($calls calls)"
seen=$(sort -u "$CLUSTER_DIR/keys.txt" | grep -c '^scan:')
echo "SCAN over 3 nodes and a restart: $calls calls, $seen distinct keys of $KEYS_TOTAL"
expect_eq "$seen" "$KEYS_TOTAL" "keys returned by the iteration"
last=$(cli 2 scan 18446744073709551615 | head -1)
expect_eq "$last" 0 "SCAN 18446744073709551615 (a valid position: the end)"
typed=$(cli 1 scan 0 count 5000 type string | tail -n +2 | grep -c '^scan:')
expect_eq "$typed" "$KEYS_TOTAL" "SCAN TYPE string"
none=$(cli 1 scan 0 count 5000 type list | tail -n +2 | grep -c '^scan:')
expect_eq "$none" 0 "SCAN TYPE list"
big=$(head -c 5000 /dev/zero | tr '\0' 'p')
err=$(cli 1 scan 0 match "$big" 2>&1)
case $err in *"pattern too long"*) ;; *) fail "SCAN MATCH of 5000 bytes: '$err'" ;; esac
echo "scan_cursor: ok"
