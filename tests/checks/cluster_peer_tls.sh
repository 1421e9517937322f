#!/usr/bin/env bash
# timeout: 240
# TLS between peers on real processes (issue 16): 3 nodes with --tls-replication yes, each
# presenting tools/tls-test-ca.sh's certificate and requiring the others' to chain to its CA,
# with a --cluster-secret-file on top (its HMAC handshake runs inside TLS) and clients on
# --tls-port. Checked:
# - the peer port speaks mutual TLS: openssl s_client with the CA's certificate completes a
#   handshake, without a certificate it is refused;
# - the cluster elects, replicates a load to every node, and survives kill -9 of the leader
#   (a new one is elected, writes go on) and its restart (it catches up);
# - a node with a certificate of another CA (the secret and ports of a real node) and a node
#   without --tls-replication (the secret too) cannot take part: the term and the leader stay
#   as they were, writes commit on the two real nodes, the outsider learns no leader and
#   applies nothing; both sides count the refusals (INFO peer_tls_failures) and log why
#   ("certificate verify failed", "speaks plaintext"), without the secret or any key; inside
#   TLS, a node with the CA's certificate but another secret, or another --cluster-id, is
#   refused the same way by the HMAC handshake and the hello;
# - SIGHUP applies to peer connections: the real node restarted with the other CA's
#   certificate stays out until its files are fixed and it is sent SIGHUP, then it catches up;
# - the probes of membership changes go over TLS: a joiner without it is refused, node 4 with
#   it joins (--join, `chorus cluster add`) and catches up;
# - redis-cli works on the plain port and with --tls on the TLS port.
cd "$(dirname "$0")/../.."
PORT_BASE=${PORT_BASE:-27400}
. tests/cluster/lib.sh
set -u

tls_port() { echo $((PORT_BASE + 20 + $1)); }
CA=$CLUSTER_DIR/tls
OTHER=$CLUSTER_DIR/tls-other
tools/tls-test-ca.sh "$CA" >/dev/null || fail "tools/tls-test-ca.sh"
tools/tls-test-ca.sh "$OTHER" >/dev/null || fail "tools/tls-test-ca.sh (second CA)"
SECRET="peer-tls-secret-$$-0123456789"
printf '%s\n' "$SECRET" >"$CLUSTER_DIR/secret"
chmod 600 "$CLUSTER_DIR/secret"

# flags NODE CERT_DIR — node NODE's TLS flags with the certificate and key of CERT_DIR (the
# CA it trusts is always $CA's).
flags() {
    echo "--cluster-secret-file $CLUSTER_DIR/secret --tls-replication yes" \
         "--tls-port $(tls_port "$1") --tls-cert $2/server.crt --tls-key $2/server.key" \
         "--tls-ca $CA/ca.crt"
}
NODES=3
for i in 1 2 3; do NODE_FLAGS=$(flags "$i" "$CA") node_start "$i" || fail "node $i did not start"; done
leader=$(wait_leader 200) || fail "no leader"

# The peer port speaks TLS and wants a certificate of the CA.
s_client() {
    timeout 10 openssl s_client -connect "127.0.0.1:$(peer_port 1)" -CAfile "$CA/ca.crt" "$@" \
        </dev/null 2>&1
}
case $(s_client -cert "$CA/client.crt" -key "$CA/client.key") in
    *"Verify return code: 0 (ok)"*) ;;
    *) fail "the peer port did not complete a TLS handshake with a certificate of the CA" ;;
esac
# Without a certificate: under TLS 1.3 the client may see its side finish before the alert
# arrives, so the refusal is checked where it happens, on the node.
s_client >/dev/null
wait_for 20 stat_at_least 1 peer_tls_failures 1 || fail "node 1 did not count the refusal"
grep -q "TLS handshake failed" "$CLUSTER_DIR/node1.log" || fail "node 1 did not log the refusal"

# Replication over TLS, then kill -9 of the leader and its restart.
for i in $(seq 1 200); do echo "SET before:$i $i"; done | cli_load "$leader" || fail "load"
for n in 1 2 3; do
    wait_for 20 reply_is "$n" 200 get before:200 || fail "node $n did not apply the load"
done
echo "leader $leader replicated 200 writes to every node over TLS; kill -9 of the leader"
old=$leader
node_kill "$old"
leader=$(wait_leader_other_than "$old" 20) || fail "no new leader after kill -9"
expect_eq "$(cli "$leader" set after:kill x)" OK "a write after the kill"
NODE_FLAGS=$(flags "$old" "$CA") node_start "$old" || fail "restart of node $old"
wait_for 30 reply_is "$old" x get after:kill || fail "node $old did not catch up after restart"
leader=$(wait_leader 200) || fail "no leader after the restart"

victim=1
[ "$victim" = "$leader" ] && victim=2
other=$((6 - leader - victim))
term=$(info_field "$leader" term)
echo "leader $leader, term $term; node $victim is replaced by outsiders"
node_kill "$victim"

# outsider NAME LOG_WORD STAT FLAGS... — a chorusd as node $victim (its ports, a fresh data
# directory) with FLAGS; it must stay out while the leader refuses it (counting in INFO stats
# STAT), and a log says why.
outsider() {
    local name=$1 word=$2 stat=$3; shift 3
    local before
    before=$(info_stat "$leader" "$stat")
    "$CHORUSD" --id "$victim" --cluster "$(cluster_spec 3)" --protocol "$PROTOCOL" \
        --data-dir "$CLUSTER_DIR/outsider-$name" --listen "127.0.0.1:$(client_port "$victim")" \
        --peer-listen "127.0.0.1:$(peer_port "$victim")" --shards 1 "$@" \
        >>"$CLUSTER_DIR/outsider-$name.log" 2>&1 &
    NODE_PID[$victim]=$!
    wait_for 10 node_answers_ping "$victim" || fail "outsider $name did not start"
    # The leader keeps trying to reach the address, and the outsider the real nodes: three
    # refusals on the leader's side are several heartbeats and retries.
    wait_for 30 stat_at_least "$leader" "$stat" $((before + 3)) ||
        fail "outsider $name: the leader did not refuse it"
    expect_eq "$(cli "$leader" set "during:$name" x)" OK "write with outsider $name"
    expect_eq "$(info_field "$victim" leader_id)" 0 "outsider $name's leader"
    expect_eq "$(info_field "$victim" applied_index)" 0 "outsider $name's applied index"
    expect_eq "$(info_field "$leader" term)" "$term" "the term with outsider $name"
    expect_eq "$(info_field "$leader" role)" leader "node $leader's role with outsider $name"
    expect_eq "$(info_field "$other" leader_id)" "$leader" "node $other's leader with outsider $name"
    grep -q -- "$word" "$CLUSTER_DIR/node$leader.log" "$CLUSTER_DIR/node$other.log" \
        "$CLUSTER_DIR/outsider-$name.log" || fail "outsider $name: no log line says '$word'"
    echo "outsider $name: refused ($stat on the leader: $(info_stat "$leader" "$stat"))"
    node_kill "$victim"
}
outsider other-ca "certificate verify failed" peer_tls_failures $(flags "$victim" "$OTHER")
outsider plaintext "speaks plaintext" peer_tls_failures --cluster-secret-file "$CLUSTER_DIR/secret"
# Inside TLS the secret and the cluster id are still checked: a certificate of the CA is not
# enough.
printf '%s\n' "another-secret-$$-0123456789" >"$CLUSTER_DIR/other-secret"
chmod 600 "$CLUSTER_DIR/other-secret"
outsider other-secret "challenge refused" peer_auth_failures \
    $(flags "$victim" "$CA" | sed "s|$CLUSTER_DIR/secret|$CLUSTER_DIR/other-secret|")
outsider cluster-id "another cluster" peer_handshake_errors $(flags "$victim" "$CA") --cluster-id 12345

# The real node with the other CA's certificate in its files: it stays out. Then the right
# files and SIGHUP: its new peer connections present them, and it catches up.
mkdir -p "$CLUSTER_DIR/rotating"
cp "$OTHER/server.crt" "$OTHER/server.key" "$CLUSTER_DIR/rotating/"
before=$(info_stat "$leader" peer_tls_failures)
NODE_FLAGS=$(flags "$victim" "$CLUSTER_DIR/rotating") node_start "$victim" ||
    fail "restart of node $victim with the other CA's certificate"
wait_for 30 stat_at_least "$leader" peer_tls_failures $((before + 3)) ||
    fail "the leader did not refuse node $victim's other certificate"
reply_is "$victim" x get during:plaintext && fail "node $victim caught up with a wrong certificate"
cp "$CA/server.crt" "$CA/server.key" "$CLUSTER_DIR/rotating/"
kill -HUP "${NODE_PID[$victim]}"
wait_for 10 grep -q "new peer connections use them" "$CLUSTER_DIR/node$victim.log" ||
    fail "node $victim did not reload its certificate on SIGHUP"
wait_for 30 reply_is "$victim" x get during:plaintext || fail "node $victim did not catch up after SIGHUP"
expect_eq "$(info_field "$leader" term)" "$term" "the term after the rejoin"

# Membership over TLS: the probes of --join and of CLUSTER MEET travel inside TLS too. A
# joiner without --tls-replication is refused with a reason; node 4 with it joins through a
# follower, `chorus cluster add` on the leader adds it, and it catches up.
join4() {
    "$CHORUSD" --id 4 --join "127.0.0.1:$(peer_port "$other")" --protocol "$PROTOCOL" \
        --data-dir "$CLUSTER_DIR/$1" --listen "127.0.0.1:$(client_port 4)" \
        --peer-listen "127.0.0.1:$(peer_port 4)" "${@:2}" >>"$CLUSTER_DIR/$1.log" 2>&1 </dev/null &
    NODE_PID[4]=$!
}
join4 join-plain --cluster-secret-file "$CLUSTER_DIR/secret"
wait "${NODE_PID[4]}" && fail "a joiner without TLS learned the cluster"
grep -q "refused the probe" "$CLUSTER_DIR/join-plain.log" || fail "the plain joiner's log says no reason"
join4 node4 $(flags 4 "$CA")
wait_for 10 node_started_or_exited 4
node_answers_ping 4 || fail "node 4 did not start with --join over TLS: $(tail -3 "$CLUSTER_DIR/node4.log")"
timeout 60 "$BUILD/bin/chorus" -p "$(client_port "$leader")" cluster add "127.0.0.1:$(peer_port 4)" ||
    fail "chorus cluster add 4 over TLS"
wait_for 30 reply_is 4 x get during:plaintext || fail "node 4 did not catch up over TLS"
echo "node 4 joined over TLS (--join, chorus cluster add) and caught up"

# redis-cli, plain and over TLS.
expect_eq "$(cli "$victim" get before:7)" 7 "redis-cli on the plain port"
expect_eq "$(timeout 10 redis-cli --tls --cacert "$CA/ca.crt" --cert "$CA/client.crt" \
    --key "$CA/client.key" -p "$(tls_port "$other")" get during:other-ca)" x "redis-cli --tls"

for n in 1 2 3; do
    case "$(cli "$n" info all) $(cli "$n" config get '*')" in
        *"$SECRET"*) fail "the secret is in node $n's INFO or CONFIG" ;;
    esac
done
grep -qF -- "$SECRET" "$CLUSTER_DIR"/*.log && fail "the secret is in a log"
grep -qF -- "another-secret-$$" "$CLUSTER_DIR"/*.log && fail "the other secret is in a log"
grep -q "PRIVATE KEY" "$CLUSTER_DIR"/*.log && fail "a key is in a log"

# --tls-replication without a CA is refused at start.
out=$(timeout 10 "$CHORUSD" --id 9 --cluster "$(cluster_spec 1)" --data-dir "$CLUSTER_DIR/no-ca" \
    --tls-replication yes --tls-cert "$CA/server.crt" --tls-key "$CA/server.key" 2>&1 </dev/null)
expect_eq "$?" 2 "chorusd --tls-replication without --tls-ca: exit status"
case $out in *"needs --tls-cert, --tls-key and --tls-ca"*) ;; *) fail "no CA: $out" ;; esac
echo "cluster_peer_tls: ok"
