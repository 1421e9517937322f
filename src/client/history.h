/*
 * history.h — writes client operations as the JSON lines that chorus-lincheck reads
 * (src/lincheck/lincheck.h), one line per operation, from many threads.
 *
 * Each line is built in the caller's buffer and written whole under one mutex, so lines never
 * interleave. Only operations that may have taken effect belong in a history: the caller leaves
 * out those that certainly did not (-TRYAGAIN, nothing sent).
 */
#ifndef CHORUS_CLIENT_HISTORY_H
#define CHORUS_CLIENT_HISTORY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum history_op_kind { HISTORY_GET, HISTORY_PUT, HISTORY_DEL, HISTORY_CAS, HISTORY_INCR,
                       HISTORY_PUSH, HISTORY_POP, HISTORY_SADD, HISTORY_SREM,
                       HISTORY_SISMEMBER };

/* One finished operation. Strings are not NUL-terminated: lengths given. */
struct history_entry {
    uint64_t client;
    enum history_op_kind kind;
    const char *key;
    size_t key_len;
    const char *value;   /* PUT, CAS: the new value; PUSH: the element; set ops: the member */
    size_t value_len;
    const char *expect;  /* CAS */
    size_t expect_len;
    int64_t call_ns;
    bool returned;       /* false: outcome unknown ("return":null,"output":null) */
    int64_t return_ns;   /* > call_ns when returned */
    bool output_null;    /* GET: nil; POP: empty (LPOP nil, BLPOP timed out) */
    const char *output_value; /* GET, POP */
    size_t output_len;
    bool output_ok;      /* CAS: "ok" / "fail" */
    int64_t output_int;  /* DEL, INCR, PUSH (the new length), set ops (0/1) */
};

struct history_writer {
    FILE *file;
    pthread_mutex_t lock;
    uint64_t operations; /* lines written */
    uint64_t unknown;    /* of which outcome unknown */
    bool failed;         /* a write failed: the history is incomplete */
};

/* Opens `path` for writing (truncates). Returns 0 or -1 (errno). */
int history_writer_open(struct history_writer *writer, const char *path);
/* Flushes and closes. Returns 0, or -1 when any write failed. */
int history_writer_close(struct history_writer *writer);

/* Formats `entry` as one JSON line (with '\n') into buf[0..capacity). Returns its length, or 0
 * when it does not fit. */
size_t history_format(const struct history_entry *entry, char *buf, size_t capacity);
/* Formats into `buf` and appends the line. Thread-safe. Returns 0 or -1. */
int history_writer_add(struct history_writer *writer, const struct history_entry *entry,
                       char *buf, size_t capacity);

#endif
