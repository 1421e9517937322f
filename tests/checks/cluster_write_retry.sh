#!/usr/bin/env bash
# timeout: 150
# A write that a new leader overwrote is proposed again, not answered -TRYAGAIN, when that
# cannot reorder it with its client's later commands (requests.c, overwritten_may_retry).
# 3 nodes, S = 1, Raft and Multi-Paxos: one client writes SET k<i> <i> one after the other on
# the leader's node; the leader is cut off from its peers (--http-dev partition: it keeps
# taking the client's write but can replicate nothing) until another node leads, then healed.
# The write it took meanwhile is overwritten by the new leader's log. Fails unless:
#  - Raft: the cut-off leader counted a retried write (INFO writes_retried), so the path ran
#    (Multi-Paxos: the old leader may take the lead back with its value, see below);
#  - every write the client sent was answered +OK (Raft; Multi-Paxos may answer -UNKNOWN
#    when the healed node takes the lead back from the one a retry was forwarded to), never
#    -TRYAGAIN;
#  - every acknowledged key holds its value read back linearizably from another node.
cd "$(dirname "$0")/../.."
PORT_BASE=${PORT_BASE:-26800}
. tests/cluster/lib.sh
set -u

http_port() { echo $((PORT_BASE + 5 + $1)); }
dev() { curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Chorus-Dev: 1' \
    "http://127.0.0.1:$(http_port "$1")/dev/$2${3:-}"; }
NODES=3

run_protocol() {
    PROTOCOL=$1
    local i
    for i in 1 2 3; do [ -n "${NODE_PID[$i]:-}" ] && node_kill "$i"; done
    rm -rf "$CLUSTER_DIR"/node*
    for i in 1 2 3; do
        NODE_FLAGS="--http 127.0.0.1:$(http_port "$i") --http-dev"
        node_start "$i" || fail "$PROTOCOL: start node $i"
    done
    NODE_FLAGS=""
    local leader
    leader=$(wait_leader 200) || fail "$PROTOCOL: no leader"
    local out=$CLUSTER_DIR/writes-$PROTOCOL.txt
    # The client: sequential SETs on the leader's node until told to stop, one line each
    # ("<i> <first word of the reply>"), then the count.
    /usr/bin/python3 - "$(client_port "$leader")" "$CLUSTER_DIR/stop-$PROTOCOL" > "$out" 2>&1 <<'PY' &
import os, socket, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=20)
f = s.makefile("rb")
i = 0
deadline = time.time() + 60
while not os.path.exists(stop) and time.time() < deadline:
    i += 1
    k, v = b"k%d" % i, b"%d" % i
    s.sendall(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    reply = f.readline().decode().strip()
    print(i, (reply.split() or ["(none)"])[0], flush=True)  # "+OK", "-UNKNOWN", ...
print("count", i, flush=True)
PY
    local client=$!
    wait_for 10 eval "[ \$(wc -l < '$out') -ge 50 ]" || fail "$PROTOCOL: the client made no progress: $(tail -3 "$out")"
    # Cut the leader off as the live view does: its peers drop its messages (first, so that
    # no append it sends from now on is taken), and it drops theirs.
    for i in 1 2 3; do
        [ "$i" = "$leader" ] && continue
        expect_eq "$(dev "$i" partition "?seconds=4&node=$leader")" 200 "$PROTOCOL: node $i drops $leader"
    done
    expect_eq "$(dev "$leader" partition '?seconds=4')" 200 "$PROTOCOL: partition node $leader"
    local other
    other=$(wait_leader_other_than "$leader" 15) || fail "$PROTOCOL: no other leader while $leader is cut off"
    local before
    before=$(wc -l < "$out")
    # The partition ends by itself; the client's stuck write resolves after it.
    wait_for 20 eval "[ \$(wc -l < '$out') -ge $((before + 100)) ]" ||
        fail "$PROTOCOL: the client did not go on after the heal: $(tail -3 "$out")"
    touch "$CLUSTER_DIR/stop-$PROTOCOL"
    wait "$client"
    local retried bad count
    retried=$(info_stat "$leader" writes_retried)
    # Multi-Paxos: the cut-off leader campaigns with ever higher ballots (it has no pre-vote)
    # and, healed, takes the lead back; its own accepted value then survives its phase 1 and
    # commits: nothing is overwritten. Only Raft's step is certain to overwrite.
    if [ "$PROTOCOL" = raft ]; then
        [ "${retried:-0}" -ge 1 ] || fail "$PROTOCOL: node $leader retried no overwritten write (writes_retried=$retried)"
    fi
    # Raft: every write +OK. Multi-Paxos: a write retried by forwarding it to the new leader
    # may see the healed node take the lead back meanwhile, and then gets -UNKNOWN (its fate
    # is unknown); never -TRYAGAIN.
    local allowed='$2 != "+OK"'
    [ "$PROTOCOL" = paxos ] && allowed='$2 != "+OK" && $2 != "-UNKNOWN"'
    bad=$(grep -v '^count' "$out" | awk "$allowed" | head -3)
    [ -z "$bad" ] || fail "$PROTOCOL: writes not answered as expected: $bad"
    count=$(sed -n 's/^count //p' "$out")
    [ -n "$count" ] && [ "$count" -ge 150 ] || fail "$PROTOCOL: only ${count:-no} writes"
    # Every value, read back through another node (linearizable reads), in one MGET: an
    # acknowledged write's value, or for an -UNKNOWN one its value or nothing.
    local keys values
    keys=$(seq 1 "$count" | sed 's/^/k/' | tr '\n' ' ')
    # shellcheck disable=SC2086
    values=$(cli "$other" mget $keys)
    bad=$(paste <(grep -v '^count' "$out") <(printf '%s\n' "$values") |
        awk '!(($2 == "+OK" && $3 == $1) || ($2 == "-UNKNOWN" && ($3 == $1 || $3 == "")))' | head -3)
    [ -z "$bad" ] || fail "$PROTOCOL: values read back differ from the writes: $bad"
    echo "$PROTOCOL: leader $leader cut off, $other led; $count writes, $(grep -c ' +OK$' "$out") +OK, $retried retried"
}

run_protocol raft
run_protocol paxos
echo "cluster_write_retry: ok"
