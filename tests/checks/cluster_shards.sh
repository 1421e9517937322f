#!/usr/bin/env bash
# cluster_shards.sh — a sharded chorus on real processes (issue 10): 5 nodes, S = 16 shards,
# R = 3 replicas each, first with Raft, then a shorter pass with Multi-Paxos.
#  - Redis Cluster's face: CLUSTER KEYSLOT equals Redis's answers; CLUSTER SLOTS has the
#    ranges of redis-cli's split; CLUSTER NODES is the same text on every node but "myself,";
#    INFO cluster_enabled:1, shards:16, groups hosted and led add up to S x R and S;
#    -CROSSSLOT (Redis's exact bytes) for multi-key commands across slots, hash tags working.
#  - Clients: redis-cli -c SET/GET through every node (read back through another), redis-benchmark
#    --cluster -t set,get without errors, python3-redis's RedisCluster (set/get/mget/hash tags);
#    SCAN and DBSIZE on every node cover the whole cluster.
#  - Faults: each node in turn is SIGKILLed under a background write load; while it is down
#    every shard takes a write (within 10 s, waited for, not slept); it restarts and serves
#    every shard again before the next. Every acknowledged write is read back at the end.
#  - --redirect: every node restarted with it; for every shard one node serves and the others
#    answer -MOVED <slot> <its address>; redis-cli -c follows; the acknowledged writes survived
#    the full restart.
# The decisions are made by tests/cluster/shards_client.py (its own CRC16 and split).
# timeout: 300
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
. tests/cluster/shards_lib.sh
set -u

command -v redis-benchmark >/dev/null || fail "redis-benchmark missing (make deps: redis-tools)"
"$SHARDS_PYTHON" -c 'import redis.cluster' || fail "python3-redis missing (make deps installs it)"
SHARDS=16
NODES=5
WRITABLE_BOUND_S=10
ACKED=$CLUSTER_DIR/acked.jsonl
: >"$ACKED"

# ok NAME COMMAND... — runs a check command; a failure fails the test with the node logs.
ok() { local name=$1; shift; "$@" || fail "$name"; }
# info_settles — the INFO check passes once (quiet, for wait_for): leadership balancing may be
# handing a shard over at the moment of one look, and groups_leading then sums to S - 1 (seen
# with Multi-Paxos on a loaded machine); the check that follows it runs on a settled cluster.
info_settles() { shards_py info --ports "$(shards_ports)" --replicas 3 >/dev/null 2>&1; }

# rediscli_roundtrip WRITER READER TAG COUNT — COUNT SETs through node WRITER, then the GETs
# through node READER, each batch by one `redis-cli -c` reading the commands from stdin (as a
# user types them). Every SET must answer OK and every GET its value. Adds the redirections
# redis-cli followed to REDIRECTS.
rediscli_roundtrip() {
    local writer=$1 reader=$2 tag=$3 count=$4 out got want
    out=$(seq 1 "$count" | sed "s/.*/SET $tag:& v&/" |
          timeout 60 redis-cli -c -p "$(client_port "$writer")" 2>&1)
    REDIRECTS=$((REDIRECTS + $(printf '%s\n' "$out" | grep -c '^-> Redirected')))
    got=$(printf '%s\n' "$out" | grep -v -e '^-> Redirected' -e '^$' | grep -cx OK)
    [ "$got" = "$count" ] ||
        fail "redis-cli -c on node $writer: $got of $count SETs answered OK: $(printf '%s\n' "$out" | grep -v -x OK | head -3)"
    out=$(seq 1 "$count" | sed "s/.*/GET $tag:&/" |
          timeout 60 redis-cli -c -p "$(client_port "$reader")" 2>&1)
    REDIRECTS=$((REDIRECTS + $(printf '%s\n' "$out" | grep -c '^-> Redirected')))
    got=$(printf '%s\n' "$out" | grep -v -e '^-> Redirected' -e '^$')
    want=$(seq 1 "$count" | sed 's/^/v/')
    [ "$got" = "$want" ] ||
        fail "redis-cli -c GETs on node $reader of keys set through node $writer: $(diff <(echo "$want") <(echo "$got") | head -4)"
}
REDIRECTS=0

# benchmark_cluster NODE — redis-benchmark --cluster -t set,get from NODE: it must find at least
# two masters, report both tests, and meet no error.
benchmark_cluster() {
    local out rc masters
    out=$(timeout 120 redis-benchmark --cluster -p "$(client_port "$1")" -t set,get -n 20000 \
          -c 20 -q 2>&1 </dev/null); rc=$?
    out=$(printf '%s\n' "$out" | tr '\r' '\n' | grep -v -e 'rps=' -e '^ *$')
    echo "$out" | sed 's/^/  /'
    [ "$rc" = 0 ] || fail "redis-benchmark --cluster exited $rc (124: timed out)"
    echo "$out" | grep -qiE 'error|CROSSSLOT|MOVED|CLUSTERDOWN|TRYAGAIN' &&
        fail "redis-benchmark --cluster met an error"
    masters=$(echo "$out" | sed -nE 's/^Cluster has ([0-9]+) master nodes.*/\1/p')
    [ "${masters:-0}" -ge 2 ] || fail "redis-benchmark --cluster found ${masters:-no} masters"
    for t in SET GET; do
        echo "$out" | grep -qE "^$t: [0-9.]+ requests per second" ||
            fail "redis-benchmark --cluster reported no $t throughput"
    done
}

# start_sharded FLAGS — starts the 5 nodes with NODE_FLAGS=FLAGS and waits until every shard
# takes a write, every shard has one leader, and all nodes show the same CLUSTER NODES.
start_sharded() {
    NODE_FLAGS="--replicas 3 $1"
    cluster_start "$NODES" || fail "start ($PROTOCOL, flags $1)"
    shards_writable 30 "$ACKED" "start$RANDOM" || fail "not every shard writable after start"
    wait_for 20 shards_led_once || fail "groups_leading never added up to S = $SHARDS"
    wait_for 20 shards_nodes_agree ||
        { shards_py nodes --ports "$(shards_ports)" | grep -v ' ok *$'; fail "CLUSTER NODES differ between nodes after 20 s"; }
}

# kill_each_under_load ROUNDS — SIGKILLs nodes 1..ROUNDS in turn under a background write load;
# while each is down every shard takes a write within the bound; it restarts and serves every
# shard before the next kill. Then every acknowledged write (the load's and the probes') is read
# back.
kill_each_under_load() {
    local rounds=$1 victim stop=$CLUSTER_DIR/load.stop load_pid before
    rm -f "$stop"
    SHARDS_PY_TIMEOUT_S=280 shards_py load --ports "$(shards_ports)" --acked "$ACKED" \
        --stop-file "$stop" --seconds 200 --prefix "load$PROTOCOL" >"$CLUSTER_DIR/load.out" 2>&1 &
    load_pid=$!
    for victim in $(seq 1 "$rounds"); do
        before=$(wc -l <"$ACKED")
        wait_for 20 acked_grew "$before" 20 || fail "the load acknowledged nothing before kill $victim"
        echo "$(date +%T.%N | cut -c1-12) kill -9 node $victim"
        node_kill "$victim"
        shards_writable "$WRITABLE_BOUND_S" "$ACKED" "down$victim$PROTOCOL" "$victim" ||
            fail "with node $victim down, some shard took no write within $WRITABLE_BOUND_S s"
        node_start "$victim" || fail "restart of node $victim"
        wait_for 20 shards_writable_through "$victim" 5 "$ACKED" "back$victim$PROTOCOL" ||
            fail "restarted node $victim did not serve every shard within 20 s"
        wait_for 20 shards_led_once || fail "after node $victim restarted, groups_leading never added up to $SHARDS"
    done
    before=$(wc -l <"$ACKED")
    wait_for 20 acked_grew "$before" 20 || fail "the load acknowledged nothing after the kills"
    touch "$stop"
    wait "$load_pid" || fail "the load failed: $(cat "$CLUSTER_DIR/load.out")"
    cat "$CLUSTER_DIR/load.out"
    ok "acknowledged writes read back" shards_py verify --ports "$(shards_ports)" --acked "$ACKED" --min 100
}
# acked_grew BEFORE N — the acknowledged-writes file has at least N lines more than BEFORE.
acked_grew() { [ "$(wc -l <"$ACKED")" -ge $(($1 + $2)) ]; }

# The nodes must be alive at the end of a pass: a crash anywhere fails the test.
all_alive() {
    local i
    for i in $(seq 1 "$NODES"); do node_alive "$i" || fail "node $i died"; done
}

raft_pass() {
    PROTOCOL=raft
    echo "== raft: 5 nodes, S = $SHARDS, R = 3"
    start_sharded ""
    local all; all=$(shards_ports)
    wait_for 20 info_settles
    ok "INFO" shards_py info --ports "$all" --replicas 3
    ok "CLUSTER KEYSLOT" shards_py keyslot --ports "$all"
    ok "CLUSTER SLOTS" shards_py slots --ports "$all"
    ok "CLUSTER NODES" shards_py nodes --ports "$all"
    ok "CROSSSLOT and hash tags" shards_py crossslot --ports "$all" --prefix cs
    local i
    for i in $(seq 1 "$NODES"); do
        rediscli_roundtrip "$i" $((i % NODES + 1)) "cli$i" 300
    done
    # Without --redirect every node serves every key itself: a client is never sent elsewhere.
    [ "$REDIRECTS" = 0 ] || fail "redis-cli -c was redirected $REDIRECTS times without --redirect"
    echo "redis-cli -c: 300 SETs through each node, read back through another, no redirection: ok"
    ok "SCAN and DBSIZE over the whole cluster" shards_py scan --ports "$all" --match 'cli*' \
        --expect $((300 * NODES))
    benchmark_cluster 1
    ok "RedisCluster" shards_py cluster-client --ports "$all" --prefix rc --keys 500 --forwarding
    kill_each_under_load "$NODES"
    wait_for 20 shards_nodes_agree ||
        { shards_py nodes --ports "$(shards_ports)" | grep -v ' ok *$'; fail "CLUSTER NODES differ between nodes 20 s after the kills"; }
    all_alive

    echo "== raft: every node restarted with --redirect"
    for i in $(seq 1 "$NODES"); do node_stop "$i"; done
    NODE_FLAGS="--replicas 3 --redirect"
    for i in $(seq 1 "$NODES"); do node_start "$i" || fail "restart of $i with --redirect"; done
    shards_writable 30 "$ACKED" "redirect" || fail "not every shard writable in --redirect mode"
    wait_for 20 shards_led_once || fail "groups_leading never added up to S in --redirect mode"
    ok "MOVED" shards_py moved --ports "$all" --prefix mv
    REDIRECTS=0
    for i in $(seq 1 "$NODES"); do rediscli_roundtrip "$i" $((i % NODES + 1)) "red$i" 100; done
    echo "redis-cli -c in --redirect mode: 100 SETs and GETs per node, $REDIRECTS redirections followed"
    [ "$REDIRECTS" -ge 1 ] || fail "redis-cli -c followed no redirection in --redirect mode"
    ok "RedisCluster in --redirect mode" shards_py cluster-client --ports "$all" --prefix rr --keys 300
    ok "acknowledged writes after the full restart" \
        shards_py verify --ports "$all" --acked "$ACKED" --min 100
    all_alive
    shards_cluster_stop
}

paxos_pass() {
    PROTOCOL=paxos
    : >"$ACKED"
    echo "== paxos: 5 nodes, S = $SHARDS, R = 3 (shorter)"
    start_sharded ""
    local all; all=$(shards_ports)
    wait_for 20 info_settles
    ok "INFO (paxos)" shards_py info --ports "$all" --replicas 3
    ok "CROSSSLOT and hash tags (paxos)" shards_py crossslot --ports "$all" --prefix pcs
    REDIRECTS=0
    rediscli_roundtrip 2 4 pcli 200
    [ "$REDIRECTS" = 0 ] || fail "redis-cli -c was redirected $REDIRECTS times without --redirect (paxos)"
    echo "redis-cli -c: 200 SETs through node 2, read back through node 4, no redirection: ok"
    ok "RedisCluster (paxos)" shards_py cluster-client --ports "$all" --prefix prc --keys 200 --forwarding
    kill_each_under_load 2
    all_alive
    shards_cluster_stop
}

raft_pass
paxos_pass
echo "cluster_shards: ok"
