#!/usr/bin/env bash
# timeout: 200
# ACL users on real processes (issue 16), a 3-node cluster with S = 1 (the users live in group
# 0's log and store). Checks:
#  - tests/redis_diff/acl_diff.py against Debian's redis-server, on the leader and then on a
#    follower (whose ACL SETUSER goes through the leader): every reply byte for byte (users,
#    wrong and missing passwords, NOPERM for a command and for a key, MULTI, changes reaching
#    connections already authenticated, a deleted user's connection closed);
#  - a change made on one node is in force on every node: ACL LIST equal everywhere, a
#    connection authenticated as the user on another node loses the command it had;
#  - a node restarted keeps the users; a node that missed the changes and a compaction gets
#    them by snapshot;
#  - no password appears in a log, INFO, or a data directory (WAL, LMDB);
#  - ACL SETUSER default gives every node's default user a password, kept across a restart.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u

REDIS_PORT=$((PORT_BASE + 19))
mkdir -p "$CLUSTER_DIR/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$CLUSTER_DIR/redis" >"$CLUSTER_DIR/redis.log" 2>&1 &
NODE_PID[redis]=$! # cluster_cleanup kills it with the nodes
redis_up() { [ "$(timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
NODE_FLAGS="--snapshot-entries 200" cluster_start 3 || fail "start"
wait_for 10 redis_up || fail "redis-server did not start"
leader=$(wait_leader 200) || fail "no leader"
follower=1; while [ "$follower" = "$leader" ]; do follower=$((follower + 1)); done
other=1; while [ "$other" = "$leader" ] || [ "$other" = "$follower" ]; do other=$((other + 1)); done

for node in "$leader" "$follower"; do
    timeout 60 python3 tests/redis_diff/acl_diff.py --redis "$REDIS_PORT" \
        --chorus "$(client_port "$node")" || fail "ACL replies differ from redis-server's on node $node"
done

# A change made on the follower is in force on every node.
SECRET="pw-$$-not-in-any-log"
expect_eq "$(cli "$follower" acl setuser app on ">$SECRET" '~app:*' +@read +@write -flushall)" OK \
    "setuser on node $follower"
want=$(cli "$follower" acl list)
acl_list_is() { [ "$(cli "$1" acl list 2>/dev/null)" = "$want" ]; }
for i in 1 2 3; do wait_for 10 acl_list_is "$i" || fail "node $i's ACL LIST is not node $follower's"; done
# (The categories' words are the best fit over chorus's command table, which grows: only
# their start and the single command are checked here; acl_diff.py compares words.)
echo "$want" | grep -q '^user app on #[0-9a-f]\{64\} ~app:\* resetchannels -@all +@read +@write -flushall$' ||
    fail "unexpected ACL LIST: $want"
app_cli() { local node=$1; shift; cli "$node" --user app --pass "$SECRET" --no-auth-warning "$@"; }
for i in 1 2 3; do
    expect_eq "$(app_cli "$i" set "app:$i" "v$i")" OK "app writes app:$i on node $i"
    expect_eq "$(app_cli "$i" set "other$i" x)" \
        "NOPERM this user has no permissions to access one of the keys used as arguments" \
        "a key outside app's patterns on node $i"
    expect_eq "$(app_cli "$i" flushall)" \
        "NOPERM this user has no permissions to run the 'flushall' command" "flushall on node $i"
    expect_eq "$(cli "$i" --user app --pass wrong --no-auth-warning get app:1 2>&1 | head -1)" \
        "AUTH failed: WRONGPASS invalid username-password pair or user is disabled." \
        "a wrong password on node $i"
done

# A connection on the third node, authenticated as app, loses SET when the leader takes it
# away; it keeps GET. (Python keeps one connection open across the change.)
timeout 30 python3 - "$(client_port "$other")" "$(client_port "$leader")" "$SECRET" <<'EOF' ||
import sys, time
sys.path.insert(0, "tests/redis_diff")
from acl_diff import Conn
held, admin = Conn(int(sys.argv[1])), Conn(int(sys.argv[2]))
assert held.run(["AUTH", "app", sys.argv[3]]) == b"+OK\r\n"
assert held.run(["SET", "app:held", "1"]) == b"+OK\r\n"
assert admin.run(["ACL", "SETUSER", "app", "-set"]) == b"+OK\r\n"
deadline = time.time() + 10
want = b"-NOPERM this user has no permissions to run the 'set' command\r\n"
while held.run(["SET", "app:held", "2"]) != want:
    assert time.time() < deadline, "the change did not reach the held connection in 10 s"
    time.sleep(0.05)
assert held.run(["GET", "app:held"]) in (b"$1\r\n1\r\n", b"$1\r\n2\r\n")
EOF
    fail "a connection authenticated before a change on another node kept its permission"
expect_eq "$(cli "$leader" acl setuser app +set)" OK "set given back"

# A restarted node keeps the users; a node that missed changes and a compaction gets them by
# snapshot.
node_stop "$other"
node_start "$other" || fail "restart of $other"
want=$(cli "$leader" acl list)
wait_for 10 acl_list_is "$other" || fail "node $other lost the users in a restart"
node_kill "$other"
last=$(info_field "$leader" last_index)
[[ $last =~ ^[0-9]+$ ]] || fail "no last_index from node $leader"
expect_eq "$(cli "$leader" acl setuser late on nopass +get '~late*')" OK "setuser while $other is down"
expect_eq "$(cli "$leader" acl deluser app)" 1 "deluser app while $other is down"
for k in $(seq 1 600); do echo "SET snap$k $k"; done | cli_load "$leader" || fail "load"
wait_for 10 info_at_least "$leader" first_index $((last + 2)) || fail "leader did not compact"
node_start "$other" || fail "restart of $other after the compaction"
want=$(cli "$leader" acl list)
wait_for 10 acl_list_is "$other" || fail "node $other did not get the users by snapshot"
installed=$(info_stat "$other" snapshots_installed)
[ "${installed:-0}" -ge 1 ] || fail "node $other installed no snapshot"
expect_eq "$(cli "$other" --user late --pass x --no-auth-warning get late1)" "" "late's GET on $other"

# No secret anywhere but as a hash.
# (files_with.py reads the files as grep -rla would, but skips their holes: each data.mdb is a
# sparse 4 GiB file, and grep took minutes reading its zeros. It must find a key every node
# stored, in every node's LMDB, or it is not reading them.)
for i in 1 2 3; do cli "$i" info all; cli "$i" config get '*'; done >"$CLUSTER_DIR/info.txt" 2>&1
for i in 1 2 3; do
    python3 tests/cluster/files_with.py snap600 "$CLUSTER_DIR/node$i/kv" | grep -q . ||
        fail "files_with.py found no stored key in node $i's LMDB files"
done
leaked=$(python3 tests/cluster/files_with.py "$SECRET" "$CLUSTER_DIR"/node* "$CLUSTER_DIR/info.txt") ||
    fail "files_with.py failed"
[ -z "$leaked" ] || fail "the password appears in $(echo "$leaked" | head -3)"
# The default user changed through the log: every node asks new connections for its new
# password, also after a restart without --requirepass.
expect_eq "$(cli "$follower" acl setuser default resetpass ">$SECRET-default")" OK "setuser default"
noauth() { [ "$(cli "$1" ping 2>/dev/null)" = "NOAUTH Authentication required." ]; }
for i in 1 2 3; do wait_for 10 noauth "$i" || fail "node $i still lets connections in without AUTH"; done
export REDISCLI_AUTH="$SECRET-default"
for i in 1 2 3; do expect_eq "$(cli "$i" ping)" PONG "AUTH with the new default password on node $i"; done
node_stop "$leader"
node_start "$leader" || fail "restart of $leader with the default user changed"
unset REDISCLI_AUTH
noauth "$leader" || fail "node $leader let a connection in without AUTH after its restart"
echo "node_acl: ok"
