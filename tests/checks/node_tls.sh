#!/usr/bin/env bash
# timeout: 150
# TLS for clients on real processes (issue 16): a test CA from tools/tls-test-ca.sh, 3 nodes
# with --tls-port, --tls-cert, --tls-key, --tls-ca (client certificates required) and a
# password. redis-cli --tls and redis-benchmark --tls against them: PING, AUTH (-NOAUTH first),
# a write on one node read over TLS on another, a pipelined load of 5,000 commands, a 1 MB
# value back byte for byte; the plain port keeps working. Refused, with the node serving on:
# no client certificate, a client certificate of another CA, a server checked against another
# CA, plaintext on the TLS port. SIGHUP reloads the certificate (a bad key leaves the old one).
# --tls-auth-clients no then serves a client without one.
cd "$(dirname "$0")/../.."
PORT_BASE=${PORT_BASE:-27700}
. tests/cluster/lib.sh
set -u

tls_port() { echo $((PORT_BASE + 20 + $1)); }
CA=$CLUSTER_DIR/tls
OTHER=$CLUSTER_DIR/tls-other
tools/tls-test-ca.sh "$CA" >/dev/null || fail "tools/tls-test-ca.sh"
tools/tls-test-ca.sh "$OTHER" >/dev/null || fail "tools/tls-test-ca.sh (second CA)"
PW="tls-pw-$$"
printf '%s\n' "$PW" >"$CLUSTER_DIR/password"
export REDISCLI_AUTH="$PW"

tls_flags() {
    echo "--requirepass-file $CLUSTER_DIR/password --tls-port $(tls_port "$1")" \
         "--tls-cert $CA/server.crt --tls-key $CA/server.key --tls-ca $CA/ca.crt ${2:-}"
}
NODES=3
for i in 1 2 3; do NODE_FLAGS=$(tls_flags "$i") node_start "$i" || fail "node $i did not start"; done
wait_leader 200 >/dev/null || fail "no leader"

# tcli NODE ARGS... — redis-cli over TLS with the test client certificate.
tcli() {
    local node=$1; shift
    timeout 20 redis-cli --tls --cacert "$CA/ca.crt" --cert "$CA/client.crt" --key "$CA/client.key" \
        -p "$(tls_port "$node")" "$@"
}
expect_eq "$(tcli 1 ping)" PONG "PING over TLS"
expect_eq "$(unset REDISCLI_AUTH; tcli 1 get a 2>&1)" "NOAUTH Authentication required." "NOAUTH over TLS"
expect_eq "$(tcli 1 set tls:a hello)" OK "SET over TLS"
wait_for 10 reply_is 2 hello get tls:a || fail "the write over TLS did not reach node 2"
expect_eq "$(tcli 3 get tls:a)" hello "GET over TLS on node 3"

# A pipelined load, a large value, and redis-benchmark, all over TLS.
out=$(for i in $(seq 1 5000); do echo "SET tls:key:$i $i"; done | sed 's/$/\r/' |
      tcli 2 --pipe 2>&1)
case $out in *"errors: 0, replies: 5000"*) ;; *) fail "pipelined load over TLS: $out" ;; esac
expect_eq "$(cli 1 get tls:key:4321)" 4321 "a pipelined key read on the plain port"
head -c 750000 /dev/urandom | base64 -w0 >"$CLUSTER_DIR/big"
expect_eq "$(tcli 1 -x set tls:big <"$CLUSTER_DIR/big")" OK "SET of a 1 MB value over TLS"
expect_eq "$(tcli 3 --raw get tls:big | head -c 1000000 | md5sum)" "$(md5sum <"$CLUSTER_DIR/big")" \
    "the 1 MB value read back over TLS"
bench=$(timeout 60 redis-benchmark --tls --cacert "$CA/ca.crt" --cert "$CA/client.crt" \
        --key "$CA/client.key" -a "$PW" -p "$(tls_port 1)" -t set -n 5000 -c 10 -P 8 -q 2>&1 |
        tr '\r' '\n' | grep -E '^SET: [0-9.]+ requests per second' | tail -1)
[ -n "$bench" ] || fail "redis-benchmark --tls gave no result"
echo "redis-benchmark --tls: $bench"

# Refusals: each fails, and the node goes on serving.
refused() { # refused WHAT REDIS-CLI-ARGS... — the command must not answer PONG
    local what=$1; shift
    local reply
    reply=$(timeout 20 redis-cli "$@" ping 2>&1)
    [ "$reply" != PONG ] || fail "$what: answered PONG"
    echo "refused: $what ($(echo "$reply" | head -1))"
}
refused "no client certificate" --tls --cacert "$CA/ca.crt" -p "$(tls_port 1)"
refused "a client certificate of another CA" --tls --cacert "$CA/ca.crt" \
    --cert "$OTHER/client.crt" --key "$OTHER/client.key" -p "$(tls_port 1)"
refused "the server checked against another CA" --tls --cacert "$OTHER/ca.crt" \
    --cert "$CA/client.crt" --key "$CA/client.key" -p "$(tls_port 1)"
refused "plaintext on the TLS port" -p "$(tls_port 1)"
expect_eq "$(tcli 1 ping)" PONG "PING over TLS after the refusals"
expect_eq "$(cli 1 ping)" PONG "PING on the plain port after the refusals"

# SIGHUP reloads the files: node 1's certificate is replaced by one of another CA. Until the
# signal the old one is served; after it, clients must trust the other CA. A key that does
# not load leaves the node with the certificate it had.
ocli() { # ocli NODE ARGS... — over TLS, trusting the other CA, with the first CA's client cert
    local node=$1; shift
    timeout 20 redis-cli --tls --cacert "$OTHER/ca.crt" --cert "$CA/client.crt" \
        --key "$CA/client.key" -p "$(tls_port "$node")" "$@" 2>/dev/null
}
mkdir -p "$CLUSTER_DIR/node1-tls"
cp "$CA/server.crt" "$CA/server.key" "$CLUSTER_DIR/node1-tls/"
node_stop 1
NODE_FLAGS="--requirepass-file $CLUSTER_DIR/password --tls-port $(tls_port 1) --tls-ca $CA/ca.crt
    --tls-cert $CLUSTER_DIR/node1-tls/server.crt --tls-key $CLUSTER_DIR/node1-tls/server.key" \
    node_start 1 || fail "restart of node 1 with its own copy of the certificate"
cp "$OTHER/server.crt" "$OTHER/server.key" "$CLUSTER_DIR/node1-tls/"
expect_eq "$(tcli 1 ping)" PONG "the old certificate before SIGHUP"
kill -HUP "${NODE_PID[1]}"
ocli_pong() { [ "$(ocli 1 ping)" = PONG ]; }
wait_for 10 ocli_pong || fail "after SIGHUP the new certificate is not served"
[ "$(tcli 1 ping 2>/dev/null)" != PONG ] || fail "after SIGHUP the old certificate is still served"
echo "not a key" >"$CLUSTER_DIR/node1-tls/server.key"
kill -HUP "${NODE_PID[1]}"
wait_for 10 grep -q "were not reloaded" "$CLUSTER_DIR/node1.log" || fail "no log of the failed reload"
expect_eq "$(ocli 1 ping)" PONG "the certificate after a failed reload"
node_alive 1 || fail "node 1 stopped on SIGHUP"
echo "SIGHUP: certificates reloaded; a bad key left the old ones in use"

# --tls-auth-clients no: no client certificate needed.
node_stop 3
NODE_FLAGS=$(tls_flags 3 "--tls-auth-clients no") node_start 3 || fail "restart of node 3"
expect_eq "$(timeout 20 redis-cli --tls --cacert "$CA/ca.crt" -p "$(tls_port 3)" get tls:a)" hello \
    "--tls-auth-clients no, without a client certificate"
grep -qF -- "$PW" "$CLUSTER_DIR"/node*.log && fail "the password is in a log"
echo "node_tls: ok"
