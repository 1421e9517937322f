#!/usr/bin/env bash
# Real processes on loopback: reads and writes through every node, leader SIGKILL and
# restart, leader SIGSTOP/SIGCONT (no stale read), catch-up by snapshot, redis-cli and
# redis-benchmark against the cluster.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u

NODE_FLAGS="--snapshot-entries 300"
cluster_start 3 || fail "start"
leader=$(wait_leader) || fail "no leader elected"
echo "leader: $leader"

# Every node takes writes (followers forward) and serves linearizable reads.
for i in 1 2 3; do expect_eq "$(cli "$i" set "key$i" "value$i")" OK "set on node $i"; done
for i in 1 2 3; do for j in 1 2 3; do
    expect_eq "$(cli "$i" get "key$j")" "value$j" "read key$j on node $i"
done; done
expect_eq "$(cli 2 incr counter)" 1 "incr"
expect_eq "$(cli 3 incrby counter 41)" 42 "incrby"
expect_eq "$(cli 1 cas key1 value1 swapped)" 1 "cas"
expect_eq "$(cli 1 cas key1 value1 again)" 0 "cas fails"
expect_eq "$(cli 2 get key1)" swapped "get after cas"
expect_eq "$(cli 3 dbsize)" 4 "dbsize"

# SIGKILL the leader: a new one takes over, nothing acknowledged is lost.
for k in $(seq 1 50); do cli "$leader" set "acked$k" "$k" >/dev/null; done
node_kill "$leader"
old=$leader
start=$(date +%s%N)
leader=$(wait_leader 200) || fail "no new leader after killing $old"
echo "new leader $leader after $(( ($(date +%s%N) - start) / 1000000 )) ms"
[ "$leader" != "$old" ] || fail "the killed node is still leader"
for k in $(seq 1 50); do expect_eq "$(cli "$leader" get "acked$k")" "$k" "acked$k after leader kill"; done
for k in $(seq 1 400); do echo "SET after$k $k"; done | cli_load "$leader" || fail "load after"
node_start "$old" || fail "restart of $old"
for t in $(seq 1 100); do
    [ "$(info_field "$old" applied_index)" -ge "$(info_field "$leader" commit_index)" ] 2>/dev/null && break
    sleep 0.1
done
expect_eq "$(cli "$old" get after400)" 400 "restarted node catches up"
expect_eq "$(cli "$old" get acked50)" 50 "restarted node has the old writes"

# A follower that missed a compaction catches up by snapshot.
follower=1; while [ "$follower" = "$leader" ]; do follower=$((follower + 1)); done
node_kill "$follower"
for k in $(seq 1 1500); do echo "SET snap$k $k"; done | cli_load "$leader" || fail "load snap"
sleep 1
node_start "$follower" || fail "restart of $follower"
for t in $(seq 1 100); do
    [ "$(cli "$follower" get snap1500)" = 1500 ] && break
    sleep 0.1
done
expect_eq "$(cli "$follower" get snap1500)" 1500 "follower caught up after compaction"
installed=$(cli "$follower" info stats | tr -d '\r' | sed -n 's/^snapshots_installed://p')
[ "${installed:-0}" -ge 1 ] || fail "follower $follower did not install a snapshot (installed=$installed)"

# SIGSTOP the leader past the election timeout: on SIGCONT it steps down, no stale read.
paused=$leader
kill -STOP "${NODE_PID[$paused]}"
sleep 1
leader=$(wait_leader 200) || true
others_leader=""
for i in 1 2 3; do [ "$i" != "$paused" ] && [ "$(info_field "$i" role)" = leader ] && others_leader=$i; done
[ -n "$others_leader" ] || { kill -CONT "${NODE_PID[$paused]}"; fail "no leader while $paused is paused"; }
expect_eq "$(cli "$others_leader" set fresh new)" OK "write while the old leader is paused"
kill -CONT "${NODE_PID[$paused]}"
expect_eq "$(cli "$paused" get fresh)" new "read on the resumed old leader is not stale"
sleep 0.3
[ "$(info_field "$paused" role)" != leader ] || fail "resumed node $paused still says leader"

# redis-benchmark runs without errors.
out=$(timeout 60 redis-benchmark -p "$(client_port "$others_leader")" -t set,get -n 2000 -c 10 -q 2>&1)
echo "$out" | tail -2
echo "$out" | grep -qi error && fail "redis-benchmark reported errors"
echo "cluster_basic: ok"
