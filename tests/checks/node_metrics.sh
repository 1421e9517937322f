#!/usr/bin/env bash
# timeout: 120
# GET /metrics (--http) on real processes: 3 nodes, S = 4 (so the meta group is there too).
# The text is parsed with Prometheus's own parser (Debian's python3-prometheus-client); the
# names and types must be there, the leader INFO names for group 0 must say leader in
# chorus_group_role, commit indexes and the WAL sync histogram must grow with writes, and the
# HTTP side must refuse what it should (400, 404, 405, 431, the connection bound, the idle
# timeout) while the node keeps serving RESP.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u

/usr/bin/python3 -c "import prometheus_client.parser" 2>/dev/null ||
    fail "python3-prometheus-client is not installed (make deps)"
http_port() { echo $((PORT_BASE + 5 + $1)); }

# metrics NODE — the node's /metrics, parsed: one "# TYPE FAMILY TYPE" line per family and
# one "NAME{k=v,...} VALUE" line per sample (labels sorted, whole numbers without ".0").
# Fails if the request, the content type or the parse fails.
metrics() {
    /usr/bin/python3 - "$(http_port "$1")" <<'PY'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
url = "http://127.0.0.1:%s/metrics" % sys.argv[1]
with urllib.request.urlopen(url, timeout=5) as r:
    ctype = r.headers["Content-Type"]
    if r.status != 200 or not ctype.startswith("text/plain; version=0.0.4"):
        sys.exit("bad reply: %s %s" % (r.status, ctype))
    text = r.read().decode("utf-8")
for family in text_string_to_metric_families(text):
    print("# TYPE %s %s" % (family.name, family.type))
    for s in family.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        value = int(s.value) if float(s.value).is_integer() else s.value
        print("%s{%s} %s" % (s.name, labels, value))
PY
}
# value TEXT SAMPLE — the value of SAMPLE ("name{labels}") in parsed metrics TEXT.
value() { printf '%s\n' "$1" | awk -v k="$2" '$1 == k { print $2 }'; }
# status_of NODE — sends stdin as raw bytes to NODE's HTTP port and prints the reply's status
# code (nothing if the connection closed without a reply).
status_of() {
    /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.stdin.buffer.read())
reply = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
print(reply.split(b" ")[1].decode() if reply.startswith(b"HTTP/1.1 ") else "")
' "$(http_port "$1")"
}
group_sum() { # group_sum TEXT NAME — NAME summed over groups 0..3 (the shards, not meta)
    local text=$1 sum=0 g v
    for g in 0 1 2 3; do v=$(value "$text" "$2{group=$g}"); sum=$((sum + ${v:-0})); done
    echo "$sum"
}

SHARDS=4
NODES=3
for i in 1 2 3; do
    NODE_FLAGS="--http 127.0.0.1:$(http_port "$i")"
    [ "$i" = 3 ] && NODE_FLAGS="--http $(http_port "$i")" # a port alone: loopback
    node_start "$i" || fail "start node $i"
done
NODE_FLAGS=""
all_led() { local t; t=$(metrics 1) || return 1; for g in 0 1 2 3 4; do
    [ "$(value "$t" "chorus_group_leader_id{group=$g}")" -gt 0 ] 2>/dev/null || return 1; done; }
wait_for 15 all_led || fail "not every group (0..4) has a leader on node 1 after 15 s"

# Every family, with its type (the parser names a counter without its _total).
families="chorus_node_info:gauge chorus_shards:gauge chorus_groups_hosted:gauge
chorus_groups_leading:gauge chorus_groups_quiet:gauge chorus_clients_connected:gauge
chorus_clients_accepted:counter chorus_commands_processed:counter chorus_proposals:counter
chorus_linearizable_reads:counter chorus_forwarded_writes:counter chorus_applied_entries:counter
chorus_pending_requests:gauge chorus_snapshots_taken:counter chorus_snapshots_installed:counter
chorus_group_role:gauge chorus_group_term:gauge chorus_group_leader_id:gauge
chorus_group_commit_index:gauge chorus_group_applied_index:gauge
chorus_group_persisted_index:gauge chorus_group_last_index:gauge
chorus_group_snapshot_index:gauge chorus_wal_syncs:counter chorus_wal_synced_entries:counter
chorus_wal_sync_duration_seconds:histogram chorus_peer_messages_sent:counter
chorus_peer_messages_received:counter chorus_peer_messages_dropped:counter
chorus_peer_sent_bytes:counter chorus_peer_received_bytes:counter
chorus_peer_messages_received_by_type:counter chorus_group_leader_changes:counter
chorus_group_proposals:counter chorus_group_read_index_reads:counter
chorus_group_read_index_failures:counter chorus_group_snapshot_sent_bytes:counter
chorus_group_snapshot_received_bytes:counter chorus_clients_blocked:gauge
chorus_rebalance_moves:gauge chorus_rebalance_moves_runnable:gauge
chorus_rebalance_replicas_created:counter chorus_rebalance_replicas_deleted:counter
chorus_rebalance_moves_in_flight:gauge chorus_rebalance_snapshot_sent_bytes:counter
chorus_snapshot_bandwidth_bytes_per_second:gauge chorus_snapshot_chunks_delayed:counter"
declare -A before
for i in 1 2 3; do
    text=$(metrics "$i") || fail "node $i: /metrics did not parse"
    for f in $families; do
        printf '%s\n' "$text" | grep -qx "# TYPE ${f%%:*} ${f##*:}" || fail "node $i: no ${f%%:*} of type ${f##*:}"
    done
    expect_eq "$(value "$text" "chorus_node_info{node_id=$i,protocol=raft}")" 1 "node $i: chorus_node_info"
    expect_eq "$(value "$text" "chorus_groups_hosted{}")" 4 "node $i: groups hosted"
    for g in 0 1 2 3 4; do # 4: the meta group
        [ -n "$(value "$text" "chorus_group_term{group=$g}")" ] || fail "node $i: no term for group $g"
        # Every group elected a leader that this node has heard of.
        [ "$(value "$text" "chorus_group_leader_changes_total{group=$g}")" -ge 1 ] ||
            fail "node $i: no leader change counted for group $g"
    done
    [ "$(value "$text" "chorus_peer_messages_received_total{}")" -gt 0 ] || fail "node $i: no peer messages received"
    [ "$(value "$text" "chorus_peer_messages_received_by_type_total{type=node-beat}")" -gt 0 ] ||
        fail "node $i: no node beats counted by type"
    before[$i,commit]=$(group_sum "$text" chorus_group_commit_index)
    before[$i,syncs]=$(value "$text" "chorus_wal_sync_duration_seconds_count{}")
done

# Group 0's roles in /metrics agree with INFO: its leader alone says leader, and every node
# names it. Leadership may still move once (leadership balance hands shards to their
# preferred nodes), so a disagreement is retried; one that lasts 10 s fails.
roles_agree() {
    local leader i t lead follow want count=0
    leader=$(cluster_leader) || { ROLES_WHY="no leader by INFO"; return 1; }
    for i in 1 2 3; do
        t=$(metrics "$i") || { ROLES_WHY="node $i: /metrics"; return 1; }
        lead=$(value "$t" "chorus_group_role{group=0,role=leader}")
        follow=$(value "$t" "chorus_group_role{group=0,role=follower}")
        count=$((count + ${lead:-0}))
        if [ "$i" = "$leader" ]; then want=1/0; else want=0/1; fi
        [ "$lead/$follow" = "$want" ] ||
            { ROLES_WHY="node $i: role gauges $lead/$follow, INFO leader is node $leader"; return 1; }
        [ "$(value "$t" "chorus_group_leader_id{group=0}")" = "$leader" ] ||
            { ROLES_WHY="node $i: group 0's leader id is not $leader"; return 1; }
    done
    [ "$count" = 1 ] || { ROLES_WHY="$count nodes say they lead group 0"; return 1; }
    [ "$(cluster_leader)" = "$leader" ] || { ROLES_WHY="leader moved during the check"; return 1; }
    echo "group 0 leader: node $leader (INFO and /metrics agree)"
}
ROLES_WHY=""
wait_for 10 roles_agree || fail "group 0's roles: $ROLES_WHY"

# 200 SETs through node 2 (each one entry of its shard's log): every node's commit indexes
# over the shards, and its WAL sync count, grow; the histogram stays consistent.
for k in $(seq 1 200); do echo "SET metrics$k $k"; done | cli_load 2 || fail "load"
commit_grew() { local t; t=$(metrics "$1") || return 1
    [ "$(group_sum "$t" chorus_group_commit_index)" -ge $((before[$1,commit] + 200)) ]; }
for i in 1 2 3; do
    wait_for 10 commit_grew "$i" || fail "node $i: commit indexes did not grow by 200 within 10 s"
    text=$(metrics "$i") || fail "node $i: /metrics after the writes"
    count=$(value "$text" "chorus_wal_sync_duration_seconds_count{}")
    [ "$count" -gt "${before[$i,syncs]}" ] || fail "node $i: sync histogram count $count did not grow from ${before[$i,syncs]}"
    expect_eq "$(value "$text" "chorus_wal_syncs_total{}")" "$count" "node $i: syncs_total vs histogram count"
    expect_eq "$(value "$text" 'chorus_wal_sync_duration_seconds_bucket{le=+Inf}')" "$count" "node $i: +Inf bucket"
    printf '%s\n' "$text" | awk '/^chorus_wal_sync_duration_seconds_bucket/ { if ($2 < last) bad = 1; last = $2 }
        END { exit bad }' || fail "node $i: histogram buckets not cumulative"
    applied=$(group_sum "$text" chorus_group_applied_index)
    echo "node $i: commit sum $(group_sum "$text" chorus_group_commit_index), applied sum $applied, syncs $count"
done
[ "$(value "$(metrics 2)" "chorus_commands_processed_total{}")" -ge 200 ] || fail "node 2: commands_processed_total below 200"
# Each of the 200 SETs was proposed once, on its shard's leader (node 2 forwards the others):
# the per-group proposal counters of the three nodes add up to at least 200.
proposals=0
for i in 1 2 3; do proposals=$((proposals + $(group_sum "$(metrics "$i")" chorus_group_proposals_total))); done
[ "$proposals" -ge 200 ] || fail "the groups' proposals add up to $proposals, wanted at least 200"
# Per-command latency: node 2's 200 SETs are in chorus_command_duration_seconds{command="set"},
# whose buckets are cumulative up to +Inf = count; a GET is timed under its own name.
expect_eq "$(cli 2 get metrics7)" 7 "GET through node 2"
text=$(metrics 2) || fail "node 2: /metrics"
printf '%s\n' "$text" | grep -qx "# TYPE chorus_command_duration_seconds histogram" ||
    fail "no chorus_command_duration_seconds histogram"
count=$(value "$text" "chorus_command_duration_seconds_count{command=set}")
[ "${count:-0}" -ge 200 ] || fail "node 2: $count SETs timed, wanted at least 200"
expect_eq "$(value "$text" "chorus_command_duration_seconds_bucket{command=set,le=+Inf}")" "$count" "SET's +Inf bucket"
printf '%s\n' "$text" | awk '/^chorus_command_duration_seconds_bucket\{command=set,/ { if ($2 < last) bad = 1; last = $2 }
    END { exit bad }' || fail "SET's buckets not cumulative"
[ "$(value "$text" "chorus_command_duration_seconds_count{command=get}")" -ge 1 ] || fail "GET not timed"
# That GET was a linearizable read, confirmed by its shard's leader's core.
reads=0
for i in 1 2 3; do reads=$((reads + $(group_sum "$(metrics "$i")" chorus_group_read_index_reads_total))); done
[ "$reads" -ge 1 ] || fail "no linearizable read confirmed in chorus_group_read_index_reads_total"
echo "node 2: $count SETs timed, sum $(value "$text" "chorus_command_duration_seconds_sum{command=set}") s"
# Error replies by kind: two unknown commands and a wrong number of arguments are ERR, an INCR
# of a string WRONGTYPE or ERR (whatever the kind, it is counted once, with the total).
before=$(value "$text" "chorus_error_replies_total{kind=ERR}")
cli 2 nosuchcommand >/dev/null; cli 2 nosuchcommand2 >/dev/null; cli 2 get >/dev/null
text=$(metrics 2) || fail "node 2: /metrics"
printf '%s\n' "$text" | grep -qx "# TYPE chorus_error_replies counter" || fail "no chorus_error_replies_total counter"
expect_eq "$(value "$text" "chorus_error_replies_total{kind=ERR}")" $(( ${before:-0} + 3 )) "ERR replies after 3 errors"
expect_eq "$(value "$text" "chorus_error_replies_total{kind=other}")" 0 "other error replies"

# What the HTTP side refuses; the node serves RESP throughout.
expect_eq "$(printf 'GARBAGE\r\n\r\n' | status_of 1)" 400 "a malformed request line"
expect_eq "$(printf 'GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n' | status_of 1)" 400 "a malformed header"
expect_eq "$(printf 'GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n' | status_of 1)" 400 "a NUL byte"
expect_eq "$(printf 'GET /metrics HTTP/2.0\r\n\r\n' | status_of 1)" 400 "another HTTP version"
expect_eq "$(cli 1 ping)" PONG "RESP after malformed requests"
expect_eq "$(cli 1 set after-400 yes)" OK "a write after malformed requests"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(http_port 1)/other")" 404 "/other"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$(http_port 1)/metrics")" 405 "POST"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$(http_port 1)/metrics")" 200 "HEAD"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(http_port 1)/metrics?x=1")" 200 "a query string"
big=$(head -c 9000 /dev/zero | tr '\0' a)
expect_eq "$(printf 'GET /metrics HTTP/1.1\r\nX: %s\r\n\r\n' "$big" | status_of 1)" 431 "a request over 8 KiB"

# 64 idle connections fill the bound: one more is closed at once, RESP still answers, and
# the idle ones are closed by the server within its 5 s timeout; /metrics works again after.
/usr/bin/python3 - "$(http_port 1)" "$(client_port 1)" <<'PY' || fail "connection bound and idle timeout"
import socket, subprocess, sys, time
port, resp_port = int(sys.argv[1]), sys.argv[2]
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
time.sleep(0.3)
extra = socket.create_connection(("127.0.0.1", port))
extra.settimeout(2)
if extra.recv(100) != b"":
    sys.exit("the 65th connection was not closed")
pong = subprocess.run(["redis-cli", "-p", resp_port, "ping"], capture_output=True, timeout=5)
if pong.stdout.strip() != b"PONG":
    sys.exit("no PONG while the HTTP connections are full")
start = time.time()
for s in idle:
    s.settimeout(max(0.1, 10 - (time.time() - start)))
    if s.recv(100) != b"":
        sys.exit("an idle connection got data")
waited = time.time() - start
if waited > 8:
    sys.exit("idle connections were closed after %.1f s" % waited)
print("65th connection refused; 64 idle ones closed by the server after %.1f s" % waited)
PY
metrics 1 >/dev/null || fail "/metrics after the idle connections"
for i in 1 2 3; do node_alive "$i" || fail "node $i died"; done
echo "node_metrics: ok"
