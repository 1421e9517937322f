/*
 * bench.h — `chorus bench`: a closed-loop load generator, and a history recorder for
 * chorus-lincheck.
 *
 * Each client is a thread with one connection and one request in flight. Keys "k0".."k<K-1>"
 * hold strings (GET, SET, CAS, DEL); keys "c0".."c<K-1>" are counters and only get INCR, so
 * an INCR never meets a string. Written values start with a token unique to the client and
 * operation ("v<client>.<seq>"), padded to the value size, so a read names the write it saw.
 *
 * What an error tells (and so what the history records):
 *   -TRYAGAIN, -BUSY, connection refused, nothing sent   did not happen: left out
 *   -UNKNOWN, a timeout, a connection lost after sending  may have happened: "return":null;
 *     the client then reconnects (to the next node of --nodes) under a new client id
 *   another error reply to a write                        counted, recorded as unknown
 * A read whose outcome is unknown constrains nothing, so it is left out.
 */
#ifndef CHORUS_CLIENT_BENCH_H
#define CHORUS_CLIENT_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/conn.h"

enum {
    BENCH_CLIENTS_MAX = 1024,
    BENCH_NODES_MAX = 16,
    BENCH_VALUE_BYTES_MAX = 1u << 20,
    BENCH_KEYSPACE_MAX = 100000000,
    BENCH_KEY_PREFIX_BYTES_MAX = 32,
};

enum bench_workload {
    BENCH_WORKLOAD_SET = 0,
    BENCH_WORKLOAD_GET = 1,
    BENCH_WORKLOAD_MIXED = 2, /* GET with probability read_ratio, else SET */
    BENCH_WORKLOAD_CAS = 3,   /* GET, then CAS from the value read (SET when nil) */
    BENCH_WORKLOAD_INCR = 4,
    BENCH_WORKLOAD_ALL = 5,   /* GET (read_ratio), else SET/CAS/DEL/INCR: for lincheck */
    BENCH_WORKLOAD_QUEUE = 6, /* lists as queues: RPUSH of unique elements, LPOP, BLPOP; then
                                 every queue drained: for lincheck's queue model */
    BENCH_WORKLOAD_SETS = 7,  /* sets: SISMEMBER (read_ratio), else SADD/SREM of 8 members */
};
/* Returns 0 and sets *workload, or -1 for an unknown name. */
int bench_workload_parse(const char *name, enum bench_workload *workload);
const char *bench_workload_name(enum bench_workload workload);

/* Error kinds, counted separately. */
enum bench_error {
    BENCH_ERROR_TRYAGAIN = 0,   /* -TRYAGAIN: not executed */
    BENCH_ERROR_UNKNOWN = 1,    /* -UNKNOWN: outcome unknown */
    BENCH_ERROR_BUSY = 2,       /* -BUSY: not executed */
    BENCH_ERROR_OTHER = 3,      /* any other error reply */
    BENCH_ERROR_TIMEOUT = 4,    /* no reply in time */
    BENCH_ERROR_CONNECTION = 5, /* connection lost after sending */
    BENCH_ERROR_NOT_SENT = 6,   /* connection broke before the request left */
    BENCH_ERROR_BAD_REPLY = 7,  /* a reply of the wrong type, or malformed */
    BENCH_ERROR_KINDS = 8,
};
const char *bench_error_name(enum bench_error error);

struct bench_config {
    struct client_endpoint nodes[BENCH_NODES_MAX];
    uint32_t node_count;       /* >= 1; client i starts on node i % node_count */
    uint32_t clients;          /* 1..BENCH_CLIENTS_MAX */
    uint64_t requests;         /* total requests; used when seconds == 0 */
    double seconds;            /* > 0: run this long instead */
    uint32_t value_bytes;      /* <= BENCH_VALUE_BYTES_MAX */
    uint32_t keyspace;         /* 1..BENCH_KEYSPACE_MAX */
    enum bench_workload workload;
    double read_ratio;         /* 0..1 */
    const char *history_path;  /* NULL: no history */
    int timeout_ms;            /* per request and per connect */
    uint64_t seed;
    const char *key_prefix;    /* prepended to every key; NULL: "" without a history, and a
                                  prefix unique to the run with one (the checker's model
                                  starts with every key absent) */
};
void bench_config_default(struct bench_config *config);

/* The totals of one run. */
struct bench_result {
    uint64_t ok;
    uint64_t errors[BENCH_ERROR_KINDS];
    uint64_t connect_failures;
    double seconds;
    uint64_t history_operations;
    uint64_t history_unknown;
    bool history_failed;
};

/* Runs the benchmark and prints its report on `out`. Returns 0, or -1 when it could not run
 * (history file, threads); `result` may be NULL. */
int bench_run(const struct bench_config *config, FILE *out, struct bench_result *result);

#endif
