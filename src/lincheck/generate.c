/*
 * generate.c — random histories that are linearizable by construction.
 *
 * Property tests need histories whose verdict is known without trusting the checker. Each
 * generated operation gets an interval [call, return] and a hidden instant strictly inside it;
 * replaying the operations on a sequential model in the order of those instants gives every
 * output, so that order is a linearization and the history must pass. Clients never overlap
 * with themselves. Operations marked unknown lose their output; half of them still take
 * effect at their hidden instant (a write that landed before the timeout), half never do.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/internal.h"

enum { GENERATE_TEXT_BYTES_MAX = 48 }; /* "k4294967295", "v4294967295-4294967295", integers */

/* The value index of a planted stale write: no other operation writes or expects it, and as an
 * integer no INCR reaches it (that would take 2^32 of them; a history holds at most 2^24). */
#define GENERATE_VALUE_PLANTED UINT32_MAX

struct generate_op {
    uint32_t client;
    uint32_t key;
    enum lincheck_kind kind;
    uint32_t value;    /* PUT/CAS: index of the value written */
    uint32_t expect;   /* CAS: index of the value expected */
    int64_t call_ns;
    int64_t point_ns;  /* the hidden linearization instant, call < point < return */
    int64_t return_ns;
    bool integer;      /* its key holds integers */
    bool unknown;
    bool applies;      /* unknown only: it took effect */
    struct lincheck_value output;
    int64_t output_int;
    bool output_ok;
};

static uint64_t generate_random(uint64_t *state)
{
    /* splitmix64: small, fast, and a stream per seed. */
    uint64_t x = (*state += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t generate_below(uint64_t *state, uint64_t bound)
{
    assert(bound > 0);
    return generate_random(state) % bound;
}

/* Does `key` hold integers (so INCR applies): every key of a counter, every fourth of MIXED. */
static bool generate_is_integer_key(uint32_t key, enum lincheck_workload workload)
{
    return workload == LINCHECK_WORKLOAD_COUNTER ||
           (workload == LINCHECK_WORKLOAD_MIXED && key % 4 == 0);
}

/* The text of value `index` of `key`: integers on integer keys, "v<key>-<index>" else. */
static void generate_value_text(uint32_t key, bool integer, uint32_t index, char *out)
{
    if (integer) snprintf(out, GENERATE_TEXT_BYTES_MAX, "%" PRIu32, index);
    else snprintf(out, GENERATE_TEXT_BYTES_MAX, "v%" PRIu32 "-%" PRIu32, key, index);
}

static struct lincheck_value generate_value(bool integer, uint32_t index)
{
    /* Strings are told apart by index alone: the model state of one key only. */
    if (integer) return (struct lincheck_value){ .payload = index, .tag = LINCHECK_VALUE_INT };
    return (struct lincheck_value){ .payload = index, .tag = LINCHECK_VALUE_STRING };
}

static enum lincheck_kind generate_kind(uint64_t *rng, bool integer,
                                        enum lincheck_workload workload)
{
    uint64_t roll = generate_below(rng, 100);
    if (workload == LINCHECK_WORKLOAD_COUNTER) return roll < 10 ? LINCHECK_GET : LINCHECK_INCR;
    if (integer) {
        if (roll < 30) return LINCHECK_GET;
        if (roll < 45) return LINCHECK_PUT;
        if (roll < 50) return LINCHECK_DEL;
        if (roll < 65) return LINCHECK_CAS;
        return LINCHECK_INCR;
    }
    if (roll < 40) return LINCHECK_GET;
    if (roll < 70) return LINCHECK_PUT;
    if (roll < 80) return LINCHECK_DEL;
    return LINCHECK_CAS;
}

/* Applies `op` to the state of its key at its hidden instant and records its output. */
static void generate_apply(struct generate_op *op, struct lincheck_value *state)
{
    const struct lincheck_value absent = { 0, LINCHECK_VALUE_ABSENT };
    op->output = *state;
    bool effective = !op->unknown || op->applies;
    switch (op->kind) {
    case LINCHECK_GET:
        break;
    case LINCHECK_PUT:
        if (effective) *state = generate_value(op->integer, op->value);
        break;
    case LINCHECK_DEL:
        op->output_int = state->tag != LINCHECK_VALUE_ABSENT;
        if (effective) *state = absent;
        break;
    case LINCHECK_CAS: {
        struct lincheck_value expect = generate_value(op->integer, op->expect);
        op->output_ok = state->tag == expect.tag && state->payload == expect.payload;
        if (op->output_ok && effective) *state = generate_value(op->integer, op->value);
        break;
    }
    case LINCHECK_INCR: {
        assert(state->tag != LINCHECK_VALUE_STRING);
        int64_t next = (state->tag == LINCHECK_VALUE_INT ? state->payload : 0) + 1;
        op->output_int = next;
        if (effective) *state = (struct lincheck_value){ .payload = next,
                                                         .tag = LINCHECK_VALUE_INT };
        break;
    }
    case LINCHECK_PUSH:
    case LINCHECK_POP:
    case LINCHECK_SADD:
    case LINCHECK_SREM:
    case LINCHECK_SISMEMBER:
        assert(0 && "the generator makes no collection ops");
        break;
    }
}

static int generate_point_compare(const void *a, const void *b)
{
    const struct generate_op *x = a, *y = b;
    if (x->point_ns != y->point_ns) return x->point_ns < y->point_ns ? -1 : 1;
    return x->client < y->client ? -1 : x->client > y->client;
}

static int generate_call_compare(const void *a, const void *b)
{
    const struct generate_op *x = a, *y = b;
    if (x->call_ns != y->call_ns) return x->call_ns < y->call_ns ? -1 : 1;
    return x->client < y->client ? -1 : x->client > y->client;
}

static int generate_add(struct lincheck_history *history, const struct generate_op *g)
{
    char key[GENERATE_TEXT_BYTES_MAX], value[GENERATE_TEXT_BYTES_MAX];
    char expect[GENERATE_TEXT_BYTES_MAX], output[GENERATE_TEXT_BYTES_MAX];
    snprintf(key, sizeof(key), "k%" PRIu32, g->key);
    struct lincheck_op op = { .client = g->client + 1, .kind = g->kind, .key = key,
                              .call_ns = g->call_ns, .returned = !g->unknown,
                              .return_ns = g->return_ns };
    if (g->kind == LINCHECK_PUT || g->kind == LINCHECK_CAS) {
        generate_value_text(g->key, g->integer, g->value, value);
        op.value = value;
    }
    if (g->kind == LINCHECK_CAS) {
        generate_value_text(g->key, g->integer, g->expect, expect);
        op.expect = expect;
    }
    if (op.returned) {
        op.output_ok = g->kind == LINCHECK_PUT || g->output_ok;
        op.output_int = g->output_int;
        if (g->kind == LINCHECK_GET) {
            op.output_null = g->output.tag == LINCHECK_VALUE_ABSENT;
            if (g->output.tag == LINCHECK_VALUE_INT)
                snprintf(output, sizeof(output), "%" PRId64, g->output.payload);
            else if (g->output.tag == LINCHECK_VALUE_STRING)
                generate_value_text(g->key, g->integer, (uint32_t)g->output.payload, output);
            if (!op.output_null) op.output_value = output;
        }
    }
    return lincheck_history_add(history, &op);
}

static bool generate_completed(const struct generate_op *op, uint32_t key, enum lincheck_kind kind)
{
    return op->key == key && op->kind == kind && !op->unknown;
}

/* MIXED plant, before the outputs are computed (ops in any order): the completed PUT of key 0
 * that returns first writes the planted value, and a completed PUT that begins after it ends,
 * the one that returns first, overwrites it. Returns the instant after which a read of the
 * planted value is stale, or -1 when no such pair exists. */
static int64_t generate_plant_write(struct generate_op *ops, uint32_t count)
{
    struct generate_op *first = NULL, *second = NULL;
    for (uint32_t i = 0; i < count; i++)
        if (generate_completed(&ops[i], 0, LINCHECK_PUT) &&
            (first == NULL || ops[i].return_ns < first->return_ns))
            first = &ops[i];
    if (first == NULL) return -1;
    for (uint32_t i = 0; i < count; i++)
        if (generate_completed(&ops[i], 0, LINCHECK_PUT) && ops[i].call_ns > first->return_ns &&
            (second == NULL || ops[i].return_ns < second->return_ns))
            second = &ops[i];
    if (second == NULL) return -1;
    first->value = GENERATE_VALUE_PLANTED;
    return second->return_ns;
}

/* COUNTER plant, after the outputs are computed: the largest value a completed INCR of key 0
 * returned before `before_ns`, or 0 when none did. */
static int64_t generate_counter_floor(const struct generate_op *ops, uint32_t count,
                                      int64_t before_ns)
{
    int64_t floor = 0;
    for (uint32_t i = 0; i < count; i++)
        if (generate_completed(&ops[i], 0, LINCHECK_INCR) && ops[i].return_ns < before_ns &&
            ops[i].output_int > floor)
            floor = ops[i].output_int;
    return floor;
}

/* Makes the first completed GET of key 0 in the second half of ops[] (in call order) that can
 * be stale read an overwritten value. Returns 0, or -1 when no GET fits. */
static int generate_plant_read(struct generate_op *ops, uint32_t count,
                               enum lincheck_workload workload, int64_t stale_after_ns)
{
    for (uint32_t i = count / 2; i < count; i++) {
        struct generate_op *op = &ops[i];
        if (!generate_completed(op, 0, LINCHECK_GET)) continue;
        if (workload != LINCHECK_WORKLOAD_COUNTER) {
            if (op->call_ns <= stale_after_ns) continue;
            op->output = generate_value(op->integer, GENERATE_VALUE_PLANTED);
            return 0;
        }
        int64_t floor = generate_counter_floor(ops, count, op->call_ns);
        if (floor < 1) continue;
        op->output = floor == 1 ? (struct lincheck_value){ 0, LINCHECK_VALUE_ABSENT }
                                : (struct lincheck_value){ floor - 1, LINCHECK_VALUE_INT };
        return 0;
    }
    return -1;
}

int lincheck_generate(struct lincheck_history *history,
                      const struct lincheck_generate_options *options)
{
    assert(options->client_count >= 1 && options->key_count >= 1);
    assert(options->value_count >= 1 && options->latency_ns_max >= 2);
    assert(options->op_count <= LINCHECK_OPS_MAX);
    uint32_t count = options->op_count;
    struct generate_op *ops = calloc(count ? count : 1, sizeof(*ops));
    int64_t *client_time = calloc(options->client_count, sizeof(*client_time));
    struct lincheck_value *states = calloc(options->key_count, sizeof(*states));
    int rv = -1;
    if (ops == NULL || client_time == NULL || states == NULL) goto done;
    uint64_t rng = options->seed;
    for (uint32_t c = 0; c < options->client_count; c++)
        client_time[c] = (int64_t)generate_below(&rng, (uint64_t)options->latency_ns_max);
    for (uint32_t i = 0; i < count; i++) {
        struct generate_op *op = &ops[i];
        op->client = (uint32_t)generate_below(&rng, options->client_count);
        op->key = (uint32_t)generate_below(&rng, options->key_count);
        op->integer = generate_is_integer_key(op->key, options->workload);
        op->kind = generate_kind(&rng, op->integer, options->workload);
        op->value = (uint32_t)generate_below(&rng, options->value_count);
        op->expect = (uint32_t)generate_below(&rng, options->value_count);
        int64_t duration = 2 + (int64_t)generate_below(&rng, (uint64_t)options->latency_ns_max - 1);
        op->call_ns = client_time[op->client] + 1 +
                      (int64_t)generate_below(&rng, (uint64_t)options->latency_ns_max);
        op->return_ns = op->call_ns + duration;
        op->point_ns = op->call_ns + 1 + (int64_t)generate_below(&rng, (uint64_t)duration - 1);
        op->unknown = generate_below(&rng, 1000) < options->unknown_permille;
        op->applies = generate_below(&rng, 2) == 0;
        client_time[op->client] = op->return_ns;
    }
    int64_t stale_after_ns = 0;
    if (options->plant_stale_read && options->workload != LINCHECK_WORKLOAD_COUNTER) {
        stale_after_ns = generate_plant_write(ops, count);
        if (stale_after_ns < 0) goto done;
    }
    qsort(ops, count, sizeof(*ops), generate_point_compare);
    for (uint32_t i = 0; i < count; i++) generate_apply(&ops[i], &states[ops[i].key]);
    qsort(ops, count, sizeof(*ops), generate_call_compare);
    if (options->plant_stale_read &&
        generate_plant_read(ops, count, options->workload, stale_after_ns) != 0)
        goto done;
    for (uint32_t i = 0; i < count; i++)
        if (generate_add(history, &ops[i]) != 0) goto done;
    rv = 0;
done:
    free(ops);
    free(client_time);
    free(states);
    return rv;
}
