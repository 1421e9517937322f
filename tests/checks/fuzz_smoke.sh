#!/usr/bin/env bash
# Replays the committed fuzz corpora (tests/fuzz/corpus/<target>/) through the fuzz harnesses,
# built without libFuzzer (tests/fuzz/driver.c supplies main) but with ASan and UBSan, using
# the normal compiler. Any input that crashes, reads out of bounds or breaks a harness
# property fails `make test`, and so does a replay that ran fewer inputs than the corpus holds.
# Takes a few seconds; the fuzzing itself is `make fuzz`.
# timeout: 240
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=$BUILD/fuzz-smoke
CC=${CC:-cc}
mkdir -p "$OUT"
CFLAGS=(-std=c17 -D_GNU_SOURCE -g -O1 -Isrc -Itests/fuzz -Wall -Wextra -Werror
        -Wno-unused-parameter -fno-omit-frame-pointer
        -fsanitize=address,undefined -fno-sanitize-recover=undefined)

declare -A SOURCES=(
    [codec]="tests/fuzz/fuzz_codec.c src/consensus/codec.c src/consensus/consensus.c"
    [resp]="tests/fuzz/fuzz_resp.c src/net/resp.c"
    [ring]="tests/fuzz/fuzz_ring.c $(echo src/ring/*.c)"
)
declare -A LIBS=([ring]="-lxxhash -lm")
targets="codec resp ring"
# The topology codec's harness comes with src/cluster; replayed once its corpus exists.
if [ -f tests/fuzz/fuzz_topology.c ] && [ -d tests/fuzz/corpus/topology ]; then
    SOURCES[topology]="tests/fuzz/fuzz_topology.c $(echo src/cluster/*.c src/ring/*.c) src/consensus/membership.c src/consensus/quorum.c src/net/resp.c"
    LIBS[topology]="-lxxhash -lm"
    targets="$targets topology"
fi
# The peer handshake's decoders (net/handshake.h), with OpenSSL's HMAC.
SOURCES[handshake]="tests/fuzz/fuzz_handshake.c src/net/handshake.c"
LIBS[handshake]="-lcrypto"
targets="$targets handshake"
# The address book and the peer port's probe (net/memberbook.h, net/probe.h).
SOURCES[memberbook]="tests/fuzz/fuzz_memberbook.c src/net/memberbook.c src/net/probe.c"
targets="$targets memberbook"
# The TLS engine (net/tls.h) accepting a stranger's bytes: peers and TLS clients.
SOURCES[tls]="tests/fuzz/fuzz_tls.c src/net/tls.c"
LIBS[tls]="-lssl -lcrypto"
targets="$targets tls"
# ACL users' stored table and log entries (node/acl.h).
SOURCES[acl]="tests/fuzz/fuzz_acl.c src/node/acl.c src/node/auth.c src/storage/kv_glob.c"
LIBS[acl]="-lcrypto"
targets="$targets acl"
for target in $targets; do
    corpus=tests/fuzz/corpus/$target
    count=$(find "$corpus" -maxdepth 1 -type f | wc -l)
    [ "$count" -ge 10 ] || { echo "fuzz_smoke: $corpus holds only $count inputs"; exit 1; }
    # shellcheck disable=SC2086
    "$CC" "${CFLAGS[@]}" tests/fuzz/driver.c ${SOURCES[$target]} -o "$OUT/replay_$target" \
        ${LIBS[$target]:-}
    out=$(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$OUT/replay_$target" "$corpus")
    echo "$target: $out"
    # Every input of the corpus must have run, not only "no failure" among however many did.
    [ "$out" = "driver: $count inputs ran without a failure" ] ||
        { echo "fuzz_smoke: $target: expected all $count inputs of $corpus to run"; exit 1; }
done
echo "fuzz_smoke: ok"
