#!/usr/bin/env bash
# cluster_membership.sh on Multi-Paxos (--protocol paxos): the same three segments on real
# processes of a one-group cluster (S = 1) under a recorded client load — grow 3 -> 5 with a
# learner SIGKILLed mid catch-up, shrink 5 -> 4 removing the leader, replace a node — with the
# Multi-Paxos core's reconfiguration (Lamport's alpha window, default alpha 1024:
# src/paxos/membership.c, docs/membership.md). Each history must be linearizable, every
# acknowledged marker readable on every member, every member holding the same values. A shorter
# load per segment (8 s) than the Raft run. Waits on conditions throughout (cluster_membership.sh).
# Takes ~45 s.
# timeout: 300
cd "$(dirname "$0")/../.."
PROTOCOL=paxos BENCH_SECONDS=${BENCH_SECONDS:-60} exec bash tests/checks/cluster_membership.sh
