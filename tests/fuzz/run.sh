#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang into build-fuzz/ and runs each for FUZZ_SECONDS
# (default 60). `make fuzz` calls this.
#
#   tests/fuzz/run.sh                 build and fuzz every target
#   tests/fuzz/run.sh resp            only the named targets (codec, resp, ring, topology,
#                                     handshake, memberbook, acl, tls)
#   tests/fuzz/run.sh --seeds         regenerate the committed seed corpora, then stop
#
# Each target starts from its committed seeds in tests/fuzz/corpus/<target>/; new inputs go to
# build-fuzz/corpus/<target>/ so that the repository is not touched. A crash leaves its input
# in build-fuzz/crashes/ and makes the script fail: reproduce it with
# `build-fuzz/fuzz_<target> build-fuzz/crashes/<file>`, or add it to the corpus once fixed.
# FUZZ_JOBS=N runs N workers per target (libFuzzer -fork).
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
OUT=${FUZZ_BUILD:-build-fuzz}
CLANG=${CLANG:-clang}
CFLAGS=(-std=c17 -D_GNU_SOURCE -g -O1 -Isrc -Itests/fuzz -Wall -Wextra -Werror
        -Wno-unused-parameter -fno-omit-frame-pointer)
# Only the code under test gets libFuzzer's coverage instrumentation; the harness (its hashing
# and comparisons) does not, which more than doubles the executions per second.
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)

declare -A SOURCES=(
    [codec]="tests/fuzz/fuzz_codec.c src/consensus/codec.c src/consensus/consensus.c"
    [resp]="tests/fuzz/fuzz_resp.c src/net/resp.c"
    [ring]="tests/fuzz/fuzz_ring.c $(echo src/ring/*.c)"
    [topology]="tests/fuzz/fuzz_topology.c $(echo src/cluster/*.c src/ring/*.c) src/consensus/membership.c src/consensus/quorum.c src/net/resp.c"
    [handshake]="tests/fuzz/fuzz_handshake.c src/net/handshake.c"
    [memberbook]="tests/fuzz/fuzz_memberbook.c src/net/memberbook.c src/net/probe.c"
    [acl]="tests/fuzz/fuzz_acl.c src/node/acl.c src/node/auth.c src/storage/kv_glob.c"
    [tls]="tests/fuzz/fuzz_tls.c src/net/tls.c"
)
declare -A OPTIONS=(
    [codec]="-max_len=8192"
    [resp]="-max_len=1024 -dict=tests/fuzz/resp.dict"
    [ring]="-max_len=512"
    [topology]="-max_len=8192"
    [handshake]="-max_len=256"
    [memberbook]="-max_len=10000"
    [acl]="-max_len=4096"
    [tls]="-max_len=4096"
)
# Libraries a target links with, beyond the sanitizers.
declare -A LIBS=(
    [ring]="-lxxhash -lm"
    [topology]="-lxxhash -lm"
    [handshake]="-lcrypto"
    [acl]="-lcrypto"
    [tls]="-lssl -lcrypto"
)

command -v "$CLANG" >/dev/null || { echo "fuzz: $CLANG not found (apt-get install clang)"; exit 1; }
mkdir -p "$OUT/crashes"

if [ "${1:-}" = "--seeds" ]; then
    # shellcheck disable=SC2046
    "$CLANG" "${CFLAGS[@]}" -fsanitize=address,undefined tests/fuzz/seeds.c \
        src/consensus/codec.c src/consensus/consensus.c src/consensus/membership.c src/consensus/quorum.c $(echo src/cluster/*.c src/ring/*.c) \
        src/net/resp.c -lxxhash -lm -o "$OUT/seeds"
    mkdir -p tests/fuzz/corpus/codec tests/fuzz/corpus/resp tests/fuzz/corpus/ring \
        tests/fuzz/corpus/topology
    "$OUT/seeds" tests/fuzz/corpus/codec tests/fuzz/corpus/resp tests/fuzz/corpus/ring \
        tests/fuzz/corpus/topology
    echo "fuzz: seeds written: $(ls tests/fuzz/corpus/codec | wc -l) codec," \
         "$(ls tests/fuzz/corpus/resp | wc -l) resp, $(ls tests/fuzz/corpus/ring | wc -l) ring," \
         "$(ls tests/fuzz/corpus/topology | wc -l) topology"
    exit 0
fi

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(codec resp ring topology handshake memberbook acl tls)
failed=0
for target in "${targets[@]}"; do
    [ -n "${SOURCES[$target]:-}" ] || { echo "fuzz: unknown target $target"; exit 2; }
    bin=$OUT/fuzz_$target
    read -r harness code <<<"${SOURCES[$target]}"
    objs=()
    for src in $code; do
        obj=$OUT/obj/$target/$(basename "$src" .c).o
        mkdir -p "$(dirname "$obj")"
        "$CLANG" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
        objs+=("$obj")
    done
    # shellcheck disable=SC2086
    "$CLANG" "${CFLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer "$harness" "${objs[@]}" ${LIBS[$target]:-} -o "$bin"
    mkdir -p "$OUT/corpus/$target"
    echo "fuzz: $target for ${FUZZ_SECONDS}s"
    log=$OUT/fuzz_$target.log
    # shellcheck disable=SC2086
    if "$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/crashes/$target-" ${OPTIONS[$target]} \
        $([ "$FUZZ_JOBS" -gt 1 ] && echo "-fork=$FUZZ_JOBS") \
        "$OUT/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1; then
        grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -1 || true
        grep -E 'stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" || true
        echo "fuzz: $target ok"
    else
        failed=1
        echo "fuzz: $target FAILED; log $log:"
        grep -A 30 -E 'ERROR|property violated|deadly signal' "$log" | head -60
    fi
done
[ "$failed" -eq 0 ]
