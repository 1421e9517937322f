/*
 * ring_cmd.h — `chorus ring`: for a membership given on the command line, each node's share
 * of the keyspace and of the shards, and what moves when a node joins or leaves. A teaching
 * tool as much as an operator's one (docs/ring.md).
 */
#ifndef CHORUS_CLIENT_RING_CMD_H
#define CHORUS_CLIENT_RING_CMD_H

#include <stdio.h>

/* Runs `chorus ring ARGS...` (argv holds the arguments after "ring"). Returns the exit
 * status: 0 printed, 2 usage error (with a sentence on `err`). */
int ring_cmd_run(int argc, char **argv, FILE *out, FILE *err);

/* The usage lines of `chorus ring`, for chorus --help. */
void ring_cmd_usage(FILE *out);

#endif
