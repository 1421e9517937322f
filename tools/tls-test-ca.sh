#!/usr/bin/env bash
# tls-test-ca.sh DIR — makes a throwaway certificate authority and certificates for trying
# chorusd's TLS (--tls-port, --tls-replication) on one machine, with the openssl command
# line (Debian's openssl):
#
#   DIR/ca.crt, ca.key          the test CA (10 years; its key never leaves DIR)
#   DIR/server.crt, server.key  for chorusd: subjectAltName 127.0.0.1, ::1 and localhost;
#                               both server and client usage, since with --tls-replication
#                               a node presents it to its peers on the connections it opens
#   DIR/client.crt, client.key  a client certificate (redis-cli --cert/--key) for --tls-ca
#
# For tests and `make run`-style trials only: a real deployment's certificates come from its
# own CA. Keys are written with mode 600. An existing DIR/ca.key is kept (certificates are
# re-issued from it), so clients that trust DIR/ca.crt keep working.
set -euo pipefail
dir=${1:?usage: tools/tls-test-ca.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077
if [ ! -f ca.key ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
        -subj "/CN=chorus test CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
# issue NAME CN EXTENSIONS — a key and a certificate signed by the CA.
issue() {
    local name=$1 cn=$2 ext=$3
    openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" \
        2>/dev/null
    printf '%s\n' "$ext" >"$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
        -out "$name.crt" -extfile "$name.ext" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}
issue server "chorus test server" \
    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
issue client "chorus test client" \
    "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
chmod 644 ca.crt server.crt client.crt
echo "tls-test-ca: $dir/{ca,server,client}.{crt,key}"
