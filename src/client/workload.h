/*
 * workload.h — one bench client: picks the next operation of its workload, runs it on its
 * connection, classifies the outcome and records it (internal to src/client/bench*.c).
 */
#ifndef CHORUS_CLIENT_WORKLOAD_H
#define CHORUS_CLIENT_WORKLOAD_H

#include <stdatomic.h>

#include "client/bench.h"
#include "client/histogram.h"
#include "client/history.h"

enum {
    WORKLOAD_KEY_BYTES_MAX = BENCH_KEY_PREFIX_BYTES_MAX + 16,
    WORKLOAD_CACHE_SLOTS = 64, /* last value seen per key, direct-mapped: bounded whatever -k */
    WORKLOAD_LINE_BYTES_EXTRA = 512,
};

/* What all clients share. */
struct bench_shared {
    const struct bench_config *config;
    atomic_uint_fast64_t requests_claimed; /* -n mode */
    atomic_uint_fast64_t next_client_id;   /* history client ids, fresh after an unknown */
    atomic_bool stop;
    atomic_bool ended; /* SIGTERM or SIGINT (bench.c): the run ends as at its deadline */
    int64_t deadline_ns;                   /* -t mode; else 0 */
    struct history_writer *history;        /* NULL: none */
    char key_prefix[BENCH_KEY_PREFIX_BYTES_MAX + 1];
};

struct workload_cache_slot {
    bool valid;
    uint32_t key_index;
    char *value; /* value_bytes + token room */
    size_t length;
};

struct bench_client {
    uint32_t index;
    struct bench_shared *shared;
    struct client_conn conn;
    uint32_t node_cursor;  /* connects to nodes[(index + node_cursor) % node_count] */
    uint64_t rng;
    uint64_t client_id;    /* history id */
    uint64_t sequence;     /* for unique values */
    char *value;           /* the value being written */
    size_t value_capacity;
    struct workload_cache_slot cache[WORKLOAD_CACHE_SLOTS];
    char *line;            /* a history line */
    size_t line_capacity;
    struct histogram latency_ns;
    uint64_t ok;
    uint64_t errors[BENCH_ERROR_KINDS];
    uint64_t connect_failures;
    int64_t failing_since_ns; /* 0 when connected */
    bool last_pop_empty;      /* the last operation was a pop that found its queue empty */
};

/* Allocates the client's buffers. Returns 0 or -1. */
int bench_client_init(struct bench_client *client, struct bench_shared *shared, uint32_t index);
void bench_client_destroy(struct bench_client *client);
/* The client's loop: runs until the shared stop flag, the deadline or the request count. */
void *bench_client_main(void *client);

#endif
