#!/usr/bin/env bash
# Runs the consistent-hashing benchmark (bench/ring_bench.c) and keeps its Markdown tables in
# $BUILD/ring-bench-results.md; docs/ring.md explains them. About 1.5 minutes on 2 idle cores
# (1 M keys; rendezvous at 1,000 nodes is most of it), longer on a loaded machine.
#   BUILD=build bench/ring_bench.sh [ring_bench options, e.g. --keys 100000 --nodes 10,100]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/ring_bench
[ -x "$bin" ] || { echo "ring_bench.sh: $bin missing: run make first"; exit 2; }
out=$BUILD/ring-bench-results.md
# A hard bound on the run, so that a broken build cannot hang `make bench`.
timeout 900 "$bin" "$@" | tee "$out"
echo "ring_bench.sh: tables saved in $out"
