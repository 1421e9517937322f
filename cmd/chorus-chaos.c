/*
 * chorus-chaos — the client side of the chaos harness (tests/chaos/), beside `chorus bench`:
 *
 *   pipeline  clients that send several commands at once on one connection and check every
 *             reply against the commands sent before it on that connection. A pipeline's
 *             commands are concurrent in real time, so a linearizability checker accepts any
 *             order among them; only the client knows the order it sent them in. Each client
 *             owns its keys (a register, a counter and a pair of keys in one hash slot written
 *             by MSET and read by MGET), so the expected reply of each command follows from the
 *             earlier ones alone. Besides, all clients MSET and MGET one shared pair of keys
 *             in one hash slot: an MGET must always see the two equal. A reply that says "not executed" (-TRYAGAIN, -BUSY) changes
 *             nothing; an unknown outcome (-UNKNOWN, a timeout, a lost connection) makes the
 *             client's model uncertain, so it reconnects and moves on to fresh keys.
 *   readall   after the faults are healed: reads every key of a `chorus bench` run through every
 *             node and appends the reads to the run's history, so chorus-lincheck checks that
 *             every acknowledged write is still there, on every node.
 *
 * Exit: 0 all good, 1 a violation (pipeline) or a node that could not serve a key (readall),
 * 2 usage or setup error.
 */
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/conn.h"
#include "client/history.h"

enum {
    CHAOS_CLIENTS_MAX = 256,
    CHAOS_DEPTH_MAX = 64,              /* commands in one pipeline */
    CHAOS_TEXT_BYTES = 96,             /* a key or a value */
    CHAOS_VIOLATIONS_PRINTED_MAX = 20,
    CHAOS_KEYS_MAX = 100000,
    CHAOS_LINE_BYTES = 1024,
    CHAOS_RETRY_PAUSE_MS = 50,
};

struct chaos_options {
    struct client_endpoint nodes[16];
    uint32_t node_count;
    uint32_t clients;
    uint32_t depth;
    double seconds;
    int timeout_ms;
    uint64_t seed;
    const char *prefix;
    uint32_t keys;
    const char *history_path;
    uint64_t client_id;
    double deadline_seconds;
};

/* ---- pipeline -------------------------------------------------------------------------- */

/* PL_SHARED_*: a pair of keys in one hash slot that every client writes with MSET (the same
 * value twice) and reads with MGET: whatever the interleaving, an MGET must see both keys equal
 * (both nil, or both one MSET's value), or the multi-key write was not atomic. */
enum pl_kind {
    PL_SET, PL_GET, PL_DEL, PL_CAS, PL_INCR, PL_GET_COUNTER, PL_MSET, PL_MGET,
    PL_SHARED_MSET, PL_SHARED_MGET, PL_KINDS
};

struct pl_command {
    enum pl_kind kind;
    char value[CHAOS_TEXT_BYTES];  /* SET, CAS (new), MSET */
    char expect[CHAOS_TEXT_BYTES]; /* CAS */
};

/* What this client's keys hold, as far as its own acknowledged commands tell. */
struct pl_model {
    bool register_set;
    char register_value[CHAOS_TEXT_BYTES];
    bool counter_set;
    int64_t counter;
    bool pair_set;
    char pair_value[CHAOS_TEXT_BYTES];
};

struct pl_totals {
    atomic_uint_fast64_t batches, commands, checked, not_executed, unknown, violations;
};

struct pl_client {
    uint32_t index;
    const struct chaos_options *options;
    struct pl_totals *totals;
    int64_t deadline_ns;
    uint64_t rng;
    uint64_t generation; /* fresh keys after every uncertainty */
    uint64_t sequence;
    uint32_t node_cursor;
    struct client_conn conn;
    struct pl_model model;
    char keys[6][CHAOS_TEXT_BYTES]; /* register, counter, pair a, pair b, shared a, shared b */
};

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t rng_next(uint64_t *state)
{
    /* splitmix64: a seeded, reproducible choice of commands. */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void pl_new_keys(struct pl_client *c)
{
    const char *p = c->options->prefix;
    unsigned id = c->index;
    unsigned long long g = (unsigned long long)c->generation++;
    snprintf(c->keys[0], CHAOS_TEXT_BYTES, "%sp%u.%llu.r", p, id, g);
    snprintf(c->keys[1], CHAOS_TEXT_BYTES, "%sp%u.%llu.c", p, id, g);
    snprintf(c->keys[2], CHAOS_TEXT_BYTES, "{%sp%u.%llu}a", p, id, g);
    snprintf(c->keys[3], CHAOS_TEXT_BYTES, "{%sp%u.%llu}b", p, id, g);
    snprintf(c->keys[4], CHAOS_TEXT_BYTES, "{%sshared}a", p);
    snprintf(c->keys[5], CHAOS_TEXT_BYTES, "{%sshared}b", p);
    memset(&c->model, 0, sizeof(c->model));
}

/* Picks the batch. `predicted` assumes every earlier command of the batch succeeds, so that a
 * CAS usually names the value the register will hold; the check uses the real outcomes. */
static void pl_generate(struct pl_client *c, struct pl_command *batch, uint32_t depth)
{
    struct pl_model predicted = c->model;
    for (uint32_t i = 0; i < depth; i++) {
        struct pl_command *cmd = &batch[i];
        memset(cmd, 0, sizeof(*cmd));
        cmd->kind = (enum pl_kind)(rng_next(&c->rng) % PL_KINDS);
        if (cmd->kind == PL_CAS && !predicted.register_set)
            cmd->kind = PL_SET;
        snprintf(cmd->value, sizeof(cmd->value), "v%u.%" PRIu64, c->index, ++c->sequence);
        if (cmd->kind == PL_CAS) {
            bool hit = rng_next(&c->rng) % 4 != 0;
            snprintf(cmd->expect, sizeof(cmd->expect), "%s", hit ? predicted.register_value : "nope");
        }
        if (cmd->kind == PL_SET || (cmd->kind == PL_CAS && strcmp(cmd->expect, "nope") != 0)) {
            predicted.register_set = true;
            snprintf(predicted.register_value, CHAOS_TEXT_BYTES, "%s", cmd->value);
        }
        if (cmd->kind == PL_DEL)
            predicted.register_set = false;
    }
}

static enum client_status pl_send(struct pl_client *c, const struct pl_command *cmd)
{
    const char *argv[5];
    uint32_t argc = 0;
    switch (cmd->kind) {
    case PL_SET: argv[0] = "SET"; argv[1] = c->keys[0]; argv[2] = cmd->value; argc = 3; break;
    case PL_GET: argv[0] = "GET"; argv[1] = c->keys[0]; argc = 2; break;
    case PL_DEL: argv[0] = "DEL"; argv[1] = c->keys[0]; argc = 2; break;
    case PL_CAS:
        argv[0] = "CAS"; argv[1] = c->keys[0]; argv[2] = cmd->expect; argv[3] = cmd->value;
        argc = 4;
        break;
    case PL_INCR: argv[0] = "INCR"; argv[1] = c->keys[1]; argc = 2; break;
    case PL_GET_COUNTER: argv[0] = "GET"; argv[1] = c->keys[1]; argc = 2; break;
    case PL_MSET:
        argv[0] = "MSET"; argv[1] = c->keys[2]; argv[2] = cmd->value; argv[3] = c->keys[3];
        argv[4] = cmd->value; argc = 5;
        break;
    case PL_MGET: argv[0] = "MGET"; argv[1] = c->keys[2]; argv[2] = c->keys[3]; argc = 3; break;
    case PL_SHARED_MSET:
        argv[0] = "MSET"; argv[1] = c->keys[4]; argv[2] = cmd->value; argv[3] = c->keys[5];
        argv[4] = cmd->value; argc = 5;
        break;
    case PL_SHARED_MGET: argv[0] = "MGET"; argv[1] = c->keys[4]; argv[2] = c->keys[5]; argc = 3; break;
    case PL_KINDS: assert(!"no such command"); break;
    }
    return client_conn_send(&c->conn, argc, argv, NULL, c->options->timeout_ms);
}

static bool reply_is_bulk(const struct client_reply *r, bool set, const char *value)
{
    if (!set)
        return r->type == CLIENT_REPLY_NIL;
    return r->type == CLIENT_REPLY_BULK && r->length == strlen(value) &&
           memcmp(r->string, value, r->length) == 0;
}

static bool reply_is_integer(const struct client_reply *r, int64_t value)
{
    return r->type == CLIENT_REPLY_INTEGER && r->integer == value;
}

static bool reply_is_ok(const struct client_reply *r)
{
    return r->type == CLIENT_REPLY_STATUS && strcmp(r->string, "OK") == 0;
}

/* Checks one successful reply against the model and applies the command to it. Returns false
 * on a mismatch, with what was expected in `expected`. */
static bool pl_check(struct pl_model *m, const struct pl_command *cmd, const struct client_reply *r,
                     char *expected, size_t expected_bytes)
{
    char counter_text[32];
    bool ok = false;
    switch (cmd->kind) {
    case PL_SET:
        ok = reply_is_ok(r);
        m->register_set = true;
        snprintf(m->register_value, CHAOS_TEXT_BYTES, "%s", cmd->value);
        snprintf(expected, expected_bytes, "+OK");
        break;
    case PL_GET:
        ok = reply_is_bulk(r, m->register_set, m->register_value);
        snprintf(expected, expected_bytes, "%s", m->register_set ? m->register_value : "nil");
        break;
    case PL_DEL:
        ok = reply_is_integer(r, m->register_set ? 1 : 0);
        snprintf(expected, expected_bytes, ":%d", m->register_set ? 1 : 0);
        m->register_set = false;
        break;
    case PL_CAS: {
        bool swap = m->register_set && strcmp(m->register_value, cmd->expect) == 0;
        ok = reply_is_integer(r, swap ? 1 : 0);
        snprintf(expected, expected_bytes, ":%d", swap ? 1 : 0);
        if (swap)
            snprintf(m->register_value, CHAOS_TEXT_BYTES, "%s", cmd->value);
        break;
    }
    case PL_INCR:
        m->counter++;
        m->counter_set = true;
        ok = reply_is_integer(r, m->counter);
        snprintf(expected, expected_bytes, ":%" PRId64, m->counter);
        break;
    case PL_GET_COUNTER:
        snprintf(counter_text, sizeof(counter_text), "%" PRId64, m->counter);
        ok = reply_is_bulk(r, m->counter_set, counter_text);
        snprintf(expected, expected_bytes, "%s", m->counter_set ? counter_text : "nil");
        break;
    case PL_MSET:
        ok = reply_is_ok(r);
        m->pair_set = true;
        snprintf(m->pair_value, CHAOS_TEXT_BYTES, "%s", cmd->value);
        snprintf(expected, expected_bytes, "+OK");
        break;
    case PL_MGET:
        ok = r->type == CLIENT_REPLY_ARRAY && r->count == 2 &&
             reply_is_bulk(&r->elements[0], m->pair_set, m->pair_value) &&
             reply_is_bulk(&r->elements[1], m->pair_set, m->pair_value);
        snprintf(expected, expected_bytes, "[%s, %s]", m->pair_set ? m->pair_value : "nil",
                 m->pair_set ? m->pair_value : "nil");
        break;
    case PL_SHARED_MSET:
        ok = reply_is_ok(r);
        snprintf(expected, expected_bytes, "+OK");
        break;
    case PL_SHARED_MGET: {
        const struct client_reply *a = r->type == CLIENT_REPLY_ARRAY && r->count == 2 ? &r->elements[0] : NULL;
        const struct client_reply *b = a != NULL ? &r->elements[1] : NULL;
        ok = a != NULL && a->type == b->type &&
             (a->type == CLIENT_REPLY_NIL ||
              (a->type == CLIENT_REPLY_BULK && a->length == b->length &&
               memcmp(a->string, b->string, a->length) == 0));
        snprintf(expected, expected_bytes, "two equal values");
        break;
    }
    case PL_KINDS: assert(!"no such command"); break;
    }
    return ok;
}

static const char *const pl_names[PL_KINDS] = {
    "SET", "GET", "DEL", "CAS", "INCR", "GET(counter)", "MSET", "MGET", "MSET(shared)",
    "MGET(shared)",
};

static void pl_report_violation(struct pl_client *c, const struct pl_command *batch, uint32_t at,
                                uint32_t depth, const struct client_reply *r, const char *expected)
{
    uint64_t n = atomic_fetch_add(&c->totals->violations, 1);
    if (n >= CHAOS_VIOLATIONS_PRINTED_MAX)
        return;
    char address[CLIENT_ADDRESS_BYTES_MAX];
    client_endpoint_format(&c->options->nodes[(c->index + c->node_cursor) % c->options->node_count],
                           address);
    pthread_mutex_lock(&print_lock);
    printf("VIOLATION client %u via %s: command %u of a pipeline of %u, %s %s: expected %s, got %s "
           "'%.*s' (integer %" PRId64 ", %zu elements)\n",
           c->index, address, at + 1, depth, pl_names[batch[at].kind],
           batch[at].kind == PL_SHARED_MSET || batch[at].kind == PL_SHARED_MGET ? c->keys[4]
           : batch[at].kind == PL_MSET || batch[at].kind == PL_MGET ? c->keys[2]
           : batch[at].kind == PL_INCR || batch[at].kind == PL_GET_COUNTER ? c->keys[1] : c->keys[0],
           expected, client_reply_type_name(r->type), (int)(r->string ? r->length : 0),
           r->string ? r->string : "", r->integer, r->count);
    printf("  the pipeline:");
    for (uint32_t i = 0; i < depth; i++)
        printf(" %s%s%s", pl_names[batch[i].kind], batch[i].kind == PL_SET ? " " : "",
               batch[i].kind == PL_SET ? batch[i].value : "");
    printf("\n");
    pthread_mutex_unlock(&print_lock);
}

/* Runs one pipeline. Returns false when the client must reconnect and take fresh keys. */
static bool pl_batch(struct pl_client *c, uint32_t depth)
{
    struct pl_command batch[CHAOS_DEPTH_MAX];
    pl_generate(c, batch, depth);
    atomic_fetch_add(&c->totals->batches, 1);
    for (uint32_t i = 0; i < depth; i++) {
        enum client_status st = pl_send(c, &batch[i]);
        if (st == CLIENT_E_NOT_SENT && i == 0)
            return false; /* nothing left: the keys keep their known values */
        if (st != CLIENT_OK) {
            atomic_fetch_add(&c->totals->unknown, 1);
            return false;
        }
    }
    atomic_fetch_add(&c->totals->commands, depth);
    for (uint32_t i = 0; i < depth; i++) {
        struct client_reply *r = NULL;
        if (client_conn_read(&c->conn, c->options->timeout_ms, &r) != CLIENT_OK) {
            atomic_fetch_add(&c->totals->unknown, 1);
            return false;
        }
        bool keep = true;
        if (client_reply_is_error(r, "TRYAGAIN") || client_reply_is_error(r, "BUSY")) {
            atomic_fetch_add(&c->totals->not_executed, 1);
        } else if (r->type == CLIENT_REPLY_ERROR) {
            /* -UNKNOWN or any other error: what the key holds is no longer known. */
            atomic_fetch_add(&c->totals->unknown, 1);
            keep = false;
        } else {
            char expected[2 * CHAOS_TEXT_BYTES + 16];
            if (!pl_check(&c->model, &batch[i], r, expected, sizeof(expected))) {
                pl_report_violation(c, batch, i, depth, r, expected);
                keep = false;
            }
            atomic_fetch_add(&c->totals->checked, 1);
        }
        client_reply_free(r);
        if (!keep)
            return false;
    }
    return true;
}

static void *pl_main(void *arg)
{
    struct pl_client *c = arg;
    const struct chaos_options *o = c->options;
    pl_new_keys(c);
    while (client_now_ns() < c->deadline_ns) {
        if (c->conn.fd < 0) {
            const struct client_endpoint *e = &o->nodes[(c->index + c->node_cursor) % o->node_count];
            if (client_conn_open(&c->conn, e, o->timeout_ms) != CLIENT_OK) {
                c->node_cursor++;
                struct timespec pause = {0, CHAOS_RETRY_PAUSE_MS * 1000000L};
                nanosleep(&pause, NULL);
                continue;
            }
        }
        uint32_t depth = 2 + (uint32_t)(rng_next(&c->rng) % (o->depth - 1));
        if (!pl_batch(c, depth)) {
            client_conn_close(&c->conn);
            c->node_cursor++;
            pl_new_keys(c);
        }
    }
    client_conn_destroy(&c->conn);
    return NULL;
}

static int run_pipeline(const struct chaos_options *o)
{
    static struct pl_client clients[CHAOS_CLIENTS_MAX];
    pthread_t threads[CHAOS_CLIENTS_MAX];
    struct pl_totals totals;
    memset(&totals, 0, sizeof(totals));
    int64_t deadline = client_now_ns() + (int64_t)(o->seconds * 1e9);
    uint32_t started = 0;
    for (uint32_t i = 0; i < o->clients; i++) {
        struct pl_client *c = &clients[i];
        memset(c, 0, sizeof(*c));
        c->index = i;
        c->options = o;
        c->totals = &totals;
        c->deadline_ns = deadline;
        c->rng = o->seed * 1000003u + i;
        client_conn_init(&c->conn);
        if (pthread_create(&threads[i], NULL, pl_main, c) != 0) {
            fprintf(stderr, "chorus-chaos: cannot start client thread %u\n", i);
            break;
        }
        started++;
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    printf("pipeline: %u clients, batches %" PRIuFAST64 ", commands %" PRIuFAST64
           ", checked %" PRIuFAST64 ", not executed %" PRIuFAST64 ", unknown %" PRIuFAST64
           ", violations %" PRIuFAST64 "\n",
           started, atomic_load(&totals.batches), atomic_load(&totals.commands),
           atomic_load(&totals.checked), atomic_load(&totals.not_executed),
           atomic_load(&totals.unknown), atomic_load(&totals.violations));
    if (started != o->clients)
        return 2;
    return atomic_load(&totals.violations) == 0 ? 0 : 1;
}

/* ---- readall --------------------------------------------------------------------------- */

/* Reads `key` on one node until it answers, or the deadline passes; appends the read to the
 * history. Returns 0, or -1 when the node never answered. */
static int readall_key(struct client_conn *conn, const struct client_endpoint *node,
                       const struct chaos_options *o, const char *key, uint64_t client_id,
                       int64_t deadline_ns, struct history_writer *history)
{
    char line[CHAOS_LINE_BYTES];
    while (client_now_ns() < deadline_ns) {
        if (conn->fd < 0 && client_conn_open(conn, node, o->timeout_ms) != CLIENT_OK) {
            struct timespec pause = {0, CHAOS_RETRY_PAUSE_MS * 1000000L};
            nanosleep(&pause, NULL);
            continue;
        }
        const char *argv[2] = {"GET", key};
        struct client_reply *r = NULL;
        int64_t call = client_now_ns();
        if (client_conn_call(conn, 2, argv, NULL, o->timeout_ms, &r) != CLIENT_OK)
            continue; /* a read changes nothing: retrying it is safe */
        int64_t ret = client_now_ns();
        if (r->type != CLIENT_REPLY_BULK && r->type != CLIENT_REPLY_NIL) {
            client_reply_free(r);
            struct timespec pause = {0, CHAOS_RETRY_PAUSE_MS * 1000000L};
            nanosleep(&pause, NULL);
            continue;
        }
        struct history_entry e = {
            .client = client_id, .kind = HISTORY_GET, .key = key, .key_len = strlen(key),
            .call_ns = call, .returned = true, .return_ns = ret > call ? ret : call + 1,
            .output_null = r->type == CLIENT_REPLY_NIL, .output_value = r->string,
            .output_len = r->length,
        };
        int rc = history_writer_add(history, &e, line, sizeof(line));
        client_reply_free(r);
        return rc;
    }
    return -1;
}

static int run_readall(const struct chaos_options *o)
{
    struct history_writer history;
    memset(&history, 0, sizeof(history));
    history.file = fopen(o->history_path, "a");
    if (history.file == NULL) {
        fprintf(stderr, "chorus-chaos: cannot append to %s\n", o->history_path);
        return 2;
    }
    pthread_mutex_init(&history.lock, NULL);
    int64_t deadline = client_now_ns() + (int64_t)(o->deadline_seconds * 1e9);
    uint32_t failures = 0;
    for (uint32_t n = 0; n < o->node_count; n++) {
        struct client_conn conn;
        client_conn_init(&conn);
        char address[CLIENT_ADDRESS_BYTES_MAX];
        client_endpoint_format(&o->nodes[n], address);
        for (uint32_t k = 0; k < 2 * o->keys; k++) {
            char key[CHAOS_TEXT_BYTES];
            snprintf(key, sizeof(key), "%s%c%u", o->prefix, k < o->keys ? 'k' : 'c', k % o->keys);
            if (readall_key(&conn, &o->nodes[n], o, key, o->client_id + n, deadline, &history) != 0) {
                printf("readall: node %s did not serve %s before the deadline\n", address, key);
                failures++;
                break;
            }
        }
        client_conn_destroy(&conn);
    }
    bool write_failed = history_writer_close(&history) != 0;
    printf("readall: %u nodes x %u keys read%s\n", o->node_count, 2 * o->keys,
           failures ? ", SOME NODES FAILED" : "");
    return write_failed ? 2 : failures ? 1 : 0;
}

/* ---- command line ---------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: chorus-chaos pipeline --nodes LIST [-c CLIENTS] [-t SECONDS] [--depth N]\n"
            "                             [--prefix P] [--seed N] [--timeout MS]\n"
            "       chorus-chaos readall --nodes LIST --prefix P -k KEYS --history FILE\n"
            "                             [--client-id N] [--deadline S] [--timeout MS]\n"
            "pipeline: clients pipeline 2..DEPTH commands and check each reply against the\n"
            "  commands sent before it on the connection (exit 1 on a mismatch).\n"
            "readall: reads keys PkI and PcI (I < KEYS) through every node and appends the reads\n"
            "  to FILE, a chorus-lincheck history (exit 1 when a node did not answer in time).\n");
}

static bool parse_number(const char *text, double min, double max, double *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse_options(int argc, char **argv, struct chaos_options *o)
{
    memset(o, 0, sizeof(*o));
    o->clients = 4; o->depth = 8; o->seconds = 10; o->timeout_ms = 1000; o->seed = 1;
    o->prefix = "x."; o->client_id = 1000000; o->deadline_seconds = 30;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "chorus-chaos: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        double x = 0;
        bool ok = true;
        if (strcmp(a, "--nodes") == 0)
            ok = client_endpoint_list_parse(v, o->nodes, 16, &o->node_count) == 0;
        else if (strcmp(a, "-c") == 0 && (ok = parse_number(v, 1, CHAOS_CLIENTS_MAX, &x)))
            o->clients = (uint32_t)x;
        else if (strcmp(a, "-t") == 0 && (ok = parse_number(v, 0.1, 86400, &x)))
            o->seconds = x;
        else if (strcmp(a, "--depth") == 0 && (ok = parse_number(v, 2, CHAOS_DEPTH_MAX, &x)))
            o->depth = (uint32_t)x;
        else if (strcmp(a, "--timeout") == 0 && (ok = parse_number(v, 1, 600000, &x)))
            o->timeout_ms = (int)x;
        else if (strcmp(a, "--seed") == 0 && (ok = parse_number(v, 0, 1e15, &x)))
            o->seed = (uint64_t)x;
        else if (strcmp(a, "-k") == 0 && (ok = parse_number(v, 1, CHAOS_KEYS_MAX, &x)))
            o->keys = (uint32_t)x;
        else if (strcmp(a, "--client-id") == 0 && (ok = parse_number(v, 0, 1e15, &x)))
            o->client_id = (uint64_t)x;
        else if (strcmp(a, "--deadline") == 0 && (ok = parse_number(v, 1, 3600, &x)))
            o->deadline_seconds = x;
        else if (strcmp(a, "--prefix") == 0)
            ok = strlen(v) < 32 && (o->prefix = v) != NULL;
        else if (strcmp(a, "--history") == 0)
            o->history_path = v;
        else if (ok) {
            fprintf(stderr, "chorus-chaos: unknown option %s\n", a);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "chorus-chaos: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    if (o->node_count == 0) {
        fprintf(stderr, "chorus-chaos: --nodes is required\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct chaos_options o;
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (parse_options(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    if (strcmp(argv[1], "pipeline") == 0)
        return run_pipeline(&o);
    if (strcmp(argv[1], "readall") == 0) {
        if (o.history_path == NULL || o.keys == 0) {
            fprintf(stderr, "chorus-chaos: readall needs --history and -k\n");
            return 2;
        }
        return run_readall(&o);
    }
    fprintf(stderr, "chorus-chaos: unknown command %s\n", argv[1]);
    usage();
    return 2;
}
