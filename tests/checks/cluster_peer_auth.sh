#!/usr/bin/env bash
# timeout: 180
# Peer authentication on real processes (issue 16): 3 nodes share a --cluster-secret-file.
# A follower is killed and impostors take its place (its id, its ports, the same --cluster
# list): one without the secret, one with another secret, one with the secret but another
# --cluster-id. None may take part: the cluster's term and leader stay as they were, writes
# keep committing on the two real nodes, and the impostor never learns the leader nor applies
# anything (with an unauthenticated transport it would, within a heartbeat: the leader sends
# to that address). Both sides count the refusals (INFO stats peer_auth_failures,
# peer_handshake_errors) and log them, rate-limited. Then the real node, restarted with the
# secret, catches up. The secret appears in no log and no INFO.
cd "$(dirname "$0")/../.."
PORT_BASE=${PORT_BASE:-27300}
. tests/cluster/lib.sh
set -u

SECRET="cluster-secret-$$-0123456789"
printf '%s\n' "$SECRET" >"$CLUSTER_DIR/secret"
printf '%s\n' "another-secret-$$-0123456789" >"$CLUSTER_DIR/other"
chmod 600 "$CLUSTER_DIR/secret" "$CLUSTER_DIR/other"
SECRET_FLAGS="--cluster-secret-file $CLUSTER_DIR/secret"

NODE_FLAGS=$SECRET_FLAGS cluster_start 3 || fail "cluster did not start"
leader=$(wait_leader 200) || fail "no leader"
for i in $(seq 1 20); do echo "SET before:$i $i"; done | cli_load "$leader" || fail "load"
victim=1
[ "$victim" = "$leader" ] && victim=2
other=$((6 - leader - victim))
term=$(info_field "$leader" term)
echo "leader $leader, term $term; node $victim is replaced by impostors"
node_kill "$victim"

# impostor NAME FLAGS... — starts a chorusd as node $victim on its ports with a fresh data
# directory and FLAGS, and checks what it and the real nodes see once both sides refused it.
impostor() {
    local name=$1; shift
    local before_auth before_hs
    before_auth=$(info_stat "$leader" peer_auth_failures)
    before_hs=$(info_stat "$leader" peer_handshake_errors)
    "$CHORUSD" --id "$victim" --cluster "$(cluster_spec 3)" --protocol "$PROTOCOL" \
        --data-dir "$CLUSTER_DIR/impostor-$name" --listen "127.0.0.1:$(client_port "$victim")" \
        --peer-listen "127.0.0.1:$(peer_port "$victim")" --shards 1 "$@" \
        >>"$CLUSTER_DIR/impostor-$name.log" 2>&1 &
    NODE_PID[$victim]=$!
    wait_for 10 node_answers_ping "$victim" || fail "impostor $name did not start"
    # The leader keeps trying to reach the address: each attempt is refused. Three refusals
    # on the leader's side and three on the impostor's are several heartbeats and retries.
    wait_for 20 stat_at_least "$leader" peer_handshake_errors $((before_hs + 3)) ||
        fail "impostor $name: the leader did not refuse it"
    wait_for 20 stat_at_least "$victim" peer_handshake_errors 3 ||
        fail "impostor $name: it did not refuse the real nodes"
    if [ "$name" != cluster-id ]; then
        stat_at_least "$leader" peer_auth_failures $((before_auth + 1)) ||
            stat_at_least "$victim" peer_auth_failures 1 ||
            fail "impostor $name: no authentication failure counted"
    fi
    # Writes commit on the two real nodes meanwhile; the impostor learns none of it.
    expect_eq "$(cli "$leader" set "during:$name" x)" OK "write with impostor $name"
    expect_eq "$(info_field "$victim" leader_id)" 0 "impostor $name's leader"
    expect_eq "$(info_field "$victim" applied_index)" 0 "impostor $name's applied index"
    expect_eq "$(info_field "$leader" term)" "$term" "the term with impostor $name"
    expect_eq "$(info_field "$leader" role)" leader "node $leader's role with impostor $name"
    expect_eq "$(info_field "$other" leader_id)" "$leader" "node $other's leader with impostor $name"
    echo "impostor $name: refused (leader: $(info_stat "$leader" peer_handshake_errors) handshake" \
         "errors, $(info_stat "$leader" peer_auth_failures) authentication failures)"
    node_kill "$victim"
}

impostor no-secret
impostor other-secret --cluster-secret-file "$CLUSTER_DIR/other"
impostor cluster-id $SECRET_FLAGS --cluster-id 12345

grep -q "did not authenticate" "$CLUSTER_DIR/node$leader.log" ||
    fail "the leader's log does not say that a peer did not authenticate"
grep -q "challenge refused" "$CLUSTER_DIR/node$leader.log" ||
    fail "the leader's log does not say that a challenge was refused"
grep -q "another cluster" "$CLUSTER_DIR/node$leader.log" ||
    fail "the leader's log does not say that a hello came from another cluster"

# The real node, with the secret, rejoins and catches up.
NODE_FLAGS=$SECRET_FLAGS node_start "$victim" || fail "restart of node $victim"
wait_for 20 reply_is "$victim" x get during:cluster-id || fail "node $victim did not catch up"
expect_eq "$(info_field "$leader" term)" "$term" "the term after the rejoin"

for n in 1 2 3; do
    case "$(cli "$n" info all) $(cli "$n" config get '*')" in
        *"$SECRET"*) fail "the secret is in node $n's INFO or CONFIG" ;;
    esac
done
grep -qF -- "$SECRET" "$CLUSTER_DIR"/*.log && fail "the secret is in a log"
grep -qF -- "another-secret-$$" "$CLUSTER_DIR"/*.log && fail "the other secret is in a log"

# A --cluster-id that is not a number from 1 to 2^64 - 1 is refused at start (exit 2, the
# reason named), not read as some other id.
for bad in -1 0 12x 99999999999999999999999; do
    out=$(timeout 10 "$CHORUSD" --id 9 --cluster "$(cluster_spec 1)" --data-dir "$CLUSTER_DIR/bad-id" \
        --cluster-id "$bad" 2>&1 </dev/null); rc=$?
    expect_eq "$rc" 2 "chorusd --cluster-id $bad: exit status"
    case $out in *"--cluster-id wants a number"*) ;; *) fail "--cluster-id $bad: $out" ;; esac
done
echo "cluster_peer_auth: ok"
