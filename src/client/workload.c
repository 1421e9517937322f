/*
 * workload.c — one bench client: choose an operation, run it, classify what its reply tells,
 * record it (see bench.h for what each error means for the history).
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/workload.h"

enum {
    WORKLOAD_TOKEN_BYTES_MAX = 48,
    WORKLOAD_BACKOFF_MS = 5,           /* after -TRYAGAIN / -BUSY: let the election finish */
    WORKLOAD_RECONNECT_DELAY_MS = 20,
    WORKLOAD_CONNECT_GIVE_UP_MS = 10000, /* -n mode: no node reachable this long: stop */
    WORKLOAD_SET_MEMBERS = 8,          /* --workload sets: members m0..m7 per set */
    WORKLOAD_MEMBER_BYTES_MAX = 8,
    WORKLOAD_DRAIN_ATTEMPTS_MAX = 100000, /* --workload queue: pops of the final drain */
    WORKLOAD_DRAIN_MS = 20000,            /* and its time */
};

/* BLPOP's own timeout (seconds, as the command takes it): short, so that a blocking pop on an
 * empty queue ends well inside the client's --timeout and is recorded as an empty pop. */
#define WORKLOAD_BLPOP_TIMEOUT "0.05"

/* Fate of one operation: what the history may assume. */
enum workload_fate { FATE_OK, FATE_NOT_DONE, FATE_UNKNOWN };

struct workload_op {
    enum history_op_kind kind;
    uint32_t key_index;
    char key[WORKLOAD_KEY_BYTES_MAX];
    size_t key_len;
    const char *value; /* PUT, CAS */
    size_t value_len;
    const char *expect; /* CAS: points into the cache slot */
    size_t expect_len;
    bool blocking;      /* POP: BLPOP rather than LPOP */
    char member[WORKLOAD_MEMBER_BYTES_MAX]; /* set ops: op->value points here */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL); /* an early wake-up only shortens a backoff */
}

/* xorshift64*: a fast per-thread generator; quality is plenty for key choice. */
static uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double rng_unit(uint64_t *state)
{
    return (double)(rng_next(state) >> 11) / (double)(1ULL << 53);
}

static uint32_t rng_below(uint64_t *state, uint32_t n)
{
    assert(n > 0);
    return (uint32_t)(rng_next(state) % n);
}

int bench_client_init(struct bench_client *c, struct bench_shared *shared, uint32_t index)
{
    const struct bench_config *config = shared->config;
    memset(c, 0, sizeof(*c));
    c->index = index;
    c->shared = shared;
    client_conn_init(&c->conn);
    c->rng = (config->seed + 1) * 0x9E3779B97F4A7C15ULL + index * 0xBF58476D1CE4E5B9ULL;
    if (c->rng == 0)
        c->rng = 1;
    c->client_id = atomic_fetch_add(&shared->next_client_id, 1);
    c->value_capacity = config->value_bytes + WORKLOAD_TOKEN_BYTES_MAX;
    c->value = malloc(c->value_capacity);
    c->line_capacity = 3 * (config->value_bytes + WORKLOAD_TOKEN_BYTES_MAX) * 6 +
                       WORKLOAD_LINE_BYTES_EXTRA; /* three strings, each escaped at most 6x */
    c->line = shared->history != NULL ? malloc(c->line_capacity) : NULL;
    histogram_init(&c->latency_ns);
    if (c->value == NULL || (shared->history != NULL && c->line == NULL))
        return -1;
    bool caching = config->workload == BENCH_WORKLOAD_CAS || config->workload == BENCH_WORKLOAD_ALL;
    for (uint32_t i = 0; caching && i < WORKLOAD_CACHE_SLOTS; i++) {
        c->cache[i].value = malloc(c->value_capacity);
        if (c->cache[i].value == NULL)
            return -1;
    }
    return 0;
}

void bench_client_destroy(struct bench_client *c)
{
    client_conn_destroy(&c->conn);
    free(c->value);
    free(c->line);
    for (uint32_t i = 0; i < WORKLOAD_CACHE_SLOTS; i++)
        free(c->cache[i].value);
    memset(c, 0, sizeof(*c));
}

static struct workload_cache_slot *cache_find(struct bench_client *c, uint32_t key_index)
{
    struct workload_cache_slot *slot = &c->cache[key_index % WORKLOAD_CACHE_SLOTS];
    return slot->value != NULL && slot->valid && slot->key_index == key_index ? slot : NULL;
}

static void cache_store(struct bench_client *c, uint32_t key_index, const char *value,
                        size_t length)
{
    struct workload_cache_slot *slot = &c->cache[key_index % WORKLOAD_CACHE_SLOTS];
    if (slot->value == NULL)
        return; /* this workload keeps no cache */
    if (length > c->value_capacity) {
        slot->valid = false;
        return;
    }
    memcpy(slot->value, value, length);
    slot->length = length;
    slot->key_index = key_index;
    slot->valid = true;
}

static void cache_forget(struct bench_client *c, uint32_t key_index)
{
    struct workload_cache_slot *slot = &c->cache[key_index % WORKLOAD_CACHE_SLOTS];
    if (slot->key_index == key_index)
        slot->valid = false;
}

/* The next value written: "v<client>.<seq>" (unique in the run), padded with '.' to
 * value_bytes when that is longer. */
static void make_value(struct bench_client *c, struct workload_op *op)
{
    int n = snprintf(c->value, WORKLOAD_TOKEN_BYTES_MAX, "v%" PRIu64 ".%" PRIu64, c->client_id,
                     c->sequence++);
    size_t length = (size_t)n;
    size_t wanted = c->shared->config->value_bytes;
    if (wanted > length) {
        memset(c->value + length, '.', wanted - length);
        length = wanted;
    }
    assert(length <= c->value_capacity);
    op->value = c->value;
    op->value_len = length;
}

/* Picks the next operation of the workload. */
static void choose_op(struct bench_client *c, struct workload_op *op)
{
    const struct bench_config *config = c->shared->config;
    memset(op, 0, sizeof(*op));
    op->key_index = rng_below(&c->rng, config->keyspace);
    enum history_op_kind kind = HISTORY_GET;
    switch (config->workload) {
    case BENCH_WORKLOAD_SET: kind = HISTORY_PUT; break;
    case BENCH_WORKLOAD_GET: kind = HISTORY_GET; break;
    case BENCH_WORKLOAD_MIXED:
        kind = rng_unit(&c->rng) < config->read_ratio ? HISTORY_GET : HISTORY_PUT;
        break;
    case BENCH_WORKLOAD_CAS: kind = HISTORY_CAS; break;
    case BENCH_WORKLOAD_INCR: kind = HISTORY_INCR; break;
    case BENCH_WORKLOAD_ALL: {
        if (rng_unit(&c->rng) < config->read_ratio)
            break;
        double w = rng_unit(&c->rng);
        kind = w < 0.35 ? HISTORY_PUT : w < 0.65 ? HISTORY_CAS : w < 0.75 ? HISTORY_DEL
                                                                          : HISTORY_INCR;
        break;
    }
    case BENCH_WORKLOAD_QUEUE:
        /* more pops than pushes, so that queues stay short and empty pops are common: each
         * says that no acknowledged element is missing, and a short queue shows a wrong order
         * within a few operations (the checker's search backtracks that far only); a third
         * of the pops block */
        kind = rng_below(&c->rng, 5) < 2 ? HISTORY_PUSH : HISTORY_POP;
        op->blocking = kind == HISTORY_POP && rng_below(&c->rng, 3) == 0;
        break;
    case BENCH_WORKLOAD_SETS:
        kind = rng_unit(&c->rng) < config->read_ratio ? HISTORY_SISMEMBER
               : rng_below(&c->rng, 2) == 0          ? HISTORY_SADD
                                                      : HISTORY_SREM;
        snprintf(op->member, sizeof(op->member), "m%" PRIu32,
                 rng_below(&c->rng, WORKLOAD_SET_MEMBERS));
        op->value = op->member;
        op->value_len = strlen(op->member);
        break;
    }
    if (kind == HISTORY_CAS) {
        const struct workload_cache_slot *slot = cache_find(c, op->key_index);
        if (slot == NULL) {
            kind = HISTORY_GET; /* learn the value first; the CAS follows */
        } else {
            op->expect = slot->value;
            op->expect_len = slot->length;
        }
    }
    op->kind = kind;
    char type = kind == HISTORY_INCR ? 'c'
                : kind == HISTORY_PUSH || kind == HISTORY_POP ? 'q'
                : config->workload == BENCH_WORKLOAD_SETS ? 's' : 'k';
    int n = snprintf(op->key, sizeof(op->key), "%s%c%" PRIu32, c->shared->key_prefix, type,
                     op->key_index);
    op->key_len = (size_t)n;
    if (kind == HISTORY_PUT || kind == HISTORY_CAS || kind == HISTORY_PUSH)
        make_value(c, op); /* unique in the run: the queue model needs each element once */
}

/* A pop's reply: LPOP answers the element or nil; BLPOP [key, element], or a nil array when
 * its timeout passed with the list empty. */
static bool take_pop_output(const struct workload_op *op, const struct client_reply *reply,
                            struct history_entry *entry)
{
    if (reply->type == CLIENT_REPLY_NIL || reply->type == CLIENT_REPLY_NIL_ARRAY) {
        entry->output_null = true;
        return reply->type == (op->blocking ? CLIENT_REPLY_NIL_ARRAY : CLIENT_REPLY_NIL);
    }
    const struct client_reply *element = reply;
    if (op->blocking) {
        if (reply->type != CLIENT_REPLY_ARRAY || reply->count != 2) return false;
        element = &reply->elements[1];
    }
    entry->output_value = element->string;
    entry->output_len = element->length;
    return element->type == CLIENT_REPLY_BULK;
}

/* Fills the entry's output from a non-error reply. Returns false when the reply's type is not
 * one the command can produce. */
static bool take_output(const struct workload_op *op, const struct client_reply *reply,
                        struct history_entry *entry)
{
    switch (op->kind) {
    case HISTORY_GET:
        if (reply->type == CLIENT_REPLY_NIL) {
            entry->output_null = true;
            return true;
        }
        entry->output_value = reply->string;
        entry->output_len = reply->length;
        return reply->type == CLIENT_REPLY_BULK;
    case HISTORY_PUT:
        return reply->type == CLIENT_REPLY_STATUS && strcmp(reply->string, "OK") == 0;
    case HISTORY_CAS:
        entry->output_ok = reply->integer == 1;
        return reply->type == CLIENT_REPLY_INTEGER && (reply->integer == 0 || reply->integer == 1);
    case HISTORY_DEL:
        entry->output_int = reply->integer;
        return reply->type == CLIENT_REPLY_INTEGER && (reply->integer == 0 || reply->integer == 1);
    case HISTORY_INCR:
        entry->output_int = reply->integer;
        return reply->type == CLIENT_REPLY_INTEGER;
    case HISTORY_PUSH:
        entry->output_int = reply->integer;
        return reply->type == CLIENT_REPLY_INTEGER && reply->integer >= 1;
    case HISTORY_POP:
        return take_pop_output(op, reply, entry);
    case HISTORY_SADD:
    case HISTORY_SREM:
    case HISTORY_SISMEMBER:
        entry->output_int = reply->integer;
        return reply->type == CLIENT_REPLY_INTEGER && (reply->integer == 0 || reply->integer == 1);
    }
    return false;
}

/* What a reply or a connection failure tells about the operation. */
static enum workload_fate classify(struct bench_client *c, const struct workload_op *op,
                                   enum client_status status, bool sent,
                                   const struct client_reply *reply, struct history_entry *entry)
{
    bool write = op->kind != HISTORY_GET && op->kind != HISTORY_SISMEMBER;
    if (status != CLIENT_OK) {
        enum bench_error error = !sent ? BENCH_ERROR_NOT_SENT
                                 : status == CLIENT_E_TIMEOUT ? BENCH_ERROR_TIMEOUT
                                 : status == CLIENT_E_PROTOCOL ? BENCH_ERROR_BAD_REPLY
                                                               : BENCH_ERROR_CONNECTION;
        c->errors[error]++;
        return !sent ? FATE_NOT_DONE : FATE_UNKNOWN;
    }
    if (reply->type == CLIENT_REPLY_ERROR) {
        if (client_reply_is_error(reply, "TRYAGAIN")) {
            c->errors[BENCH_ERROR_TRYAGAIN]++;
            return FATE_NOT_DONE;
        }
        if (client_reply_is_error(reply, "BUSY")) {
            c->errors[BENCH_ERROR_BUSY]++;
            return FATE_NOT_DONE;
        }
        if (client_reply_is_error(reply, "UNKNOWN")) {
            c->errors[BENCH_ERROR_UNKNOWN]++;
            return FATE_UNKNOWN;
        }
        c->errors[BENCH_ERROR_OTHER]++;
        if (c->errors[BENCH_ERROR_OTHER] <= 3)
            fprintf(stderr, "chorus bench: client %u: %.*s on %s: -%s\n", c->index,
                    (int)op->key_len, op->key, write ? "a write" : "a read", reply->string);
        return write ? FATE_UNKNOWN : FATE_NOT_DONE; /* an error after apply: be careful */
    }
    if (!take_output(op, reply, entry)) {
        c->errors[BENCH_ERROR_BAD_REPLY]++;
        if (c->errors[BENCH_ERROR_BAD_REPLY] <= 3)
            fprintf(stderr, "chorus bench: client %u: unexpected %s reply to an operation on %.*s\n",
                    c->index, client_reply_type_name(reply->type), (int)op->key_len, op->key);
        return FATE_UNKNOWN;
    }
    return FATE_OK;
}

/* After an operation succeeded: what this client now knows about the key. */
static void learn(struct bench_client *c, const struct workload_op *op,
                  const struct history_entry *entry)
{
    switch (op->kind) {
    case HISTORY_GET:
        if (entry->output_null)
            cache_forget(c, op->key_index);
        else
            cache_store(c, op->key_index, entry->output_value, entry->output_len);
        break;
    case HISTORY_PUT: cache_store(c, op->key_index, op->value, op->value_len); break;
    case HISTORY_CAS:
        if (entry->output_ok)
            cache_store(c, op->key_index, op->value, op->value_len);
        else
            cache_forget(c, op->key_index);
        break;
    case HISTORY_DEL: cache_forget(c, op->key_index); break;
    case HISTORY_INCR:
    case HISTORY_PUSH:
    case HISTORY_POP:
    case HISTORY_SADD:
    case HISTORY_SREM:
    case HISTORY_SISMEMBER: break;
    }
}

/* Runs one operation on the open connection and records it. Returns its fate. */
static enum workload_fate run_op(struct bench_client *c, const struct workload_op *op)
{
    const struct bench_config *config = c->shared->config;
    const char *argv[4];
    size_t lengths[4];
    uint32_t argc = 0;
    static const char *const names[] = {
        [HISTORY_GET] = "GET", [HISTORY_PUT] = "SET", [HISTORY_DEL] = "DEL",
        [HISTORY_CAS] = "CAS", [HISTORY_INCR] = "INCR", [HISTORY_PUSH] = "RPUSH",
        [HISTORY_POP] = "LPOP", [HISTORY_SADD] = "SADD", [HISTORY_SREM] = "SREM",
        [HISTORY_SISMEMBER] = "SISMEMBER",
    };
    const char *name = op->blocking ? "BLPOP" : names[op->kind];
    argv[argc] = name, lengths[argc] = strlen(name), argc++;
    argv[argc] = op->key, lengths[argc] = op->key_len, argc++;
    if (op->kind == HISTORY_CAS)
        argv[argc] = op->expect, lengths[argc] = op->expect_len, argc++;
    if (op->kind != HISTORY_GET && op->kind != HISTORY_DEL && op->kind != HISTORY_INCR &&
        op->kind != HISTORY_POP)
        argv[argc] = op->value, lengths[argc] = op->value_len, argc++;
    if (op->blocking)
        argv[argc] = WORKLOAD_BLPOP_TIMEOUT, lengths[argc] = strlen(WORKLOAD_BLPOP_TIMEOUT), argc++;
    assert(argc <= sizeof(argv) / sizeof(argv[0]));

    struct history_entry entry = {
        .client = c->client_id, .kind = op->kind, .key = op->key, .key_len = op->key_len,
        .value = op->value, .value_len = op->value_len, .expect = op->expect,
        .expect_len = op->expect_len,
    };
    struct client_reply *reply = NULL;
    entry.call_ns = client_now_ns();
    enum client_status status = client_conn_send(&c->conn, argc, argv, lengths,
                                                 config->timeout_ms);
    bool sent = status == CLIENT_OK || (status != CLIENT_E_NOT_SENT &&
                                        status != CLIENT_E_NO_MEMORY);
    if (status == CLIENT_OK)
        status = client_conn_read(&c->conn, config->timeout_ms, &reply);
    entry.return_ns = client_now_ns();
    if (entry.return_ns <= entry.call_ns)
        entry.return_ns = entry.call_ns + 1;
    enum workload_fate fate = classify(c, op, status, sent, reply, &entry);
    bool read = op->kind == HISTORY_GET || op->kind == HISTORY_SISMEMBER;
    bool record = fate == FATE_OK || (fate == FATE_UNKNOWN && !read);
    if (c->shared->history != NULL && record) {
        entry.returned = fate == FATE_OK;
        history_writer_add(c->shared->history, &entry, c->line, c->line_capacity);
    }
    c->last_pop_empty = fate == FATE_OK && op->kind == HISTORY_POP && entry.output_null;
    if (fate == FATE_OK) { /* after the history line: op->expect may point into the cache */
        c->ok++;
        histogram_record(&c->latency_ns, (uint64_t)(entry.return_ns - entry.call_ns));
        learn(c, op, &entry);
    }
    client_reply_free(reply);
    if (fate == FATE_UNKNOWN) {
        /* Whatever that op did, it belongs to a client that never returned: go on as a new
         * client, on another node (this one may be partitioned or stopped). */
        cache_forget(c, op->key_index);
        client_conn_close(&c->conn);
        c->node_cursor++;
        c->client_id = atomic_fetch_add(&c->shared->next_client_id, 1);
    } else if (fate == FATE_NOT_DONE) {
        if (c->conn.fd < 0)
            c->node_cursor++;
        else
            sleep_ms(WORKLOAD_BACKOFF_MS);
    }
    return fate;
}

/* Opens the connection to the client's current node. Returns true when connected. */
static bool ensure_connected(struct bench_client *c)
{
    const struct bench_config *config = c->shared->config;
    if (c->conn.fd >= 0)
        return true;
    const struct client_endpoint *node =
        &config->nodes[(c->index + c->node_cursor) % config->node_count];
    if (client_conn_open(&c->conn, node, config->timeout_ms) == CLIENT_OK) {
        c->failing_since_ns = 0;
        return true;
    }
    c->connect_failures++;
    c->node_cursor++;
    int64_t now = client_now_ns();
    if (c->failing_since_ns == 0)
        c->failing_since_ns = now;
    if (c->shared->deadline_ns == 0 &&
        now - c->failing_since_ns > (int64_t)WORKLOAD_CONNECT_GIVE_UP_MS * 1000000) {
        fprintf(stderr, "chorus bench: no node reachable for %d s (last: %s); stopping\n",
                WORKLOAD_CONNECT_GIVE_UP_MS / 1000, c->conn.error);
        atomic_store(&c->shared->stop, true);
    }
    sleep_ms(WORKLOAD_RECONNECT_DELAY_MS);
    return false;
}

/* --workload queue, after the load: pops every queue until it answers empty, recorded like any
 * pop, so that the checker sees every element that is still in a queue — an acknowledged push
 * whose element no pop ever returned, while the last pop found the queue empty, is a lost
 * element. Bounded by WORKLOAD_DRAIN_ATTEMPTS_MAX pops and WORKLOAD_DRAIN_MS. Returns false
 * when it gave up. */
static bool drain_queues(struct bench_client *c)
{
    const struct bench_config *config = c->shared->config;
    uint32_t key_index = 0;
    int64_t deadline_ns = client_now_ns() + (int64_t)WORKLOAD_DRAIN_MS * 1000000;
    for (uint32_t attempt = 0; attempt < WORKLOAD_DRAIN_ATTEMPTS_MAX; attempt++) {
        if (key_index == config->keyspace)
            return true;
        if (client_now_ns() > deadline_ns)
            break;
        if (!ensure_connected(c)) {
            if (atomic_load(&c->shared->stop))
                return false;
            continue;
        }
        struct workload_op op = {.kind = HISTORY_POP, .key_index = key_index};
        int n = snprintf(op.key, sizeof(op.key), "%sq%" PRIu32, c->shared->key_prefix,
                         key_index);
        op.key_len = (size_t)n;
        bool empty = false;
        if (run_op(c, &op) == FATE_OK) {
            /* run_op recorded the pop; ask again until one finds the queue empty */
            empty = c->last_pop_empty;
        }
        if (empty)
            key_index++;
    }
    fprintf(stderr, "chorus bench: the queues were not drained within %d pops and %d s\n",
            WORKLOAD_DRAIN_ATTEMPTS_MAX, WORKLOAD_DRAIN_MS / 1000);
    return false;
}

void *bench_client_main(void *arg)
{
    struct bench_client *c = arg;
    struct bench_shared *shared = c->shared;
    const struct bench_config *config = shared->config;
    while (!atomic_load(&shared->stop)) { /* bounded by the deadline or the request count */
        if ((shared->deadline_ns != 0 && client_now_ns() >= shared->deadline_ns) ||
            atomic_load(&shared->ended))
            break;
        if (!ensure_connected(c))
            continue;
        if (shared->deadline_ns == 0 &&
            atomic_fetch_add(&shared->requests_claimed, 1) >= config->requests)
            break;
        struct workload_op op;
        choose_op(c, &op);
        run_op(c, &op);
    }
    if (config->workload == BENCH_WORKLOAD_QUEUE && c->index == 0 &&
        !atomic_load(&shared->stop) && !drain_queues(c))
        c->errors[BENCH_ERROR_OTHER]++;
    client_conn_close(&c->conn);
    return NULL;
}
