/*
 * search_model.c — the sequential key-value model the search replays, and its hashing.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/search_internal.h"

uint64_t search_mix(uint64_t x)
{
    /* splitmix64's finalizer: a bijection that spreads every input bit. */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t search_state_hash(struct lincheck_value state)
{
    return search_mix((uint64_t)state.payload * 4 + state.tag);
}

bool search_value_equal(struct lincheck_value a, struct lincheck_value b)
{
    return a.tag == b.tag && a.payload == b.payload;
}

/* The queue: PUSH appends its element and sees the new length, POP takes the head (or sees
 * an empty queue, which it leaves as it is). */
static bool search_step_queue(struct search *s, const struct lincheck_record *record,
                              bool returned, struct lincheck_value state,
                              struct lincheck_value *next)
{
    const struct lincheck_op *op = &record->op;
    if (state.tag != LINCHECK_VALUE_ABSENT && state.tag != LINCHECK_VALUE_QUEUE)
        return false; /* a string: WRONGTYPE, which the model never linearizes */
    uint32_t length = search_queue_length(s, state);
    if (op->kind == LINCHECK_PUSH) {
        if (returned && op->output_int != (int64_t)length + 1) return false;
        *next = search_queue_push(s, state, record->value);
        return true;
    }
    assert(op->kind == LINCHECK_POP);
    if (length == 0) return returned && record->output.tag == LINCHECK_VALUE_ABSENT;
    if (returned && !search_value_equal(search_queue_head(s, state), record->output))
        return false;
    *next = search_queue_pop(s, state);
    return true;
}

/* One member of a set: absent, or present (the integer 1). SADD and SREM set it whatever it
 * was, and their output says what it was; SISMEMBER reads it. */
static bool search_step_member(const struct lincheck_record *record, bool returned,
                               struct lincheck_value state, struct lincheck_value *next)
{
    const struct lincheck_op *op = &record->op;
    const struct lincheck_value present = { 1, LINCHECK_VALUE_INT };
    const struct lincheck_value absent = { 0, LINCHECK_VALUE_ABSENT };
    if (state.tag != LINCHECK_VALUE_ABSENT && !search_value_equal(state, present)) return false;
    bool member = state.tag != LINCHECK_VALUE_ABSENT;
    switch (op->kind) {
    case LINCHECK_SISMEMBER:
        return returned && member == (op->output_int == 1);
    case LINCHECK_SADD:
        *next = present;
        if (!returned) return !member;
        return member == (op->output_int == 0);
    case LINCHECK_SREM:
        *next = absent;
        if (!returned) return member;
        return member == (op->output_int == 1);
    default:
        assert(0 && "not a set op");
        return false;
    }
}

/* The sequential model. For an operation that returned: can it take effect on `state` and
 * give the output the client saw, and what state follows. For an unknown outcome: does taking
 * effect change the state (if not, skipping it is the same and cheaper). */
bool search_step(struct search *s, const struct lincheck_record *record, bool returned,
                 struct lincheck_value state, struct lincheck_value *next)
{
    const struct lincheck_op *op = &record->op;
    const struct lincheck_value absent = { 0, LINCHECK_VALUE_ABSENT };
    *next = state;
    if (state.tag == LINCHECK_VALUE_QUEUE && op->kind != LINCHECK_PUSH &&
        op->kind != LINCHECK_POP)
        return false; /* a list: WRONGTYPE for a string op, which the model never linearizes */
    switch (op->kind) {
    case LINCHECK_PUSH:
    case LINCHECK_POP:
        return search_step_queue(s, record, returned, state, next);
    case LINCHECK_SADD:
    case LINCHECK_SREM:
    case LINCHECK_SISMEMBER:
        return search_step_member(record, returned, state, next);
    case LINCHECK_GET:
        return returned && search_value_equal(state, record->output);
    case LINCHECK_PUT:
        *next = record->value;
        return returned || !search_value_equal(state, record->value);
    case LINCHECK_DEL:
        *next = absent;
        if (!returned) return state.tag != LINCHECK_VALUE_ABSENT;
        return (state.tag != LINCHECK_VALUE_ABSENT) == (op->output_int == 1);
    case LINCHECK_CAS: {
        bool swaps = search_value_equal(state, record->expect);
        if (swaps) *next = record->value;
        if (!returned) return swaps && !search_value_equal(state, record->value);
        return swaps == op->output_ok;
    }
    case LINCHECK_INCR: {
        int64_t current = 0;
        if (state.tag == LINCHECK_VALUE_STRING) return false;
        if (state.tag == LINCHECK_VALUE_INT) current = state.payload;
        if (current == INT64_MAX) return false;
        *next = (struct lincheck_value){ .payload = current + 1, .tag = LINCHECK_VALUE_INT };
        return !returned || op->output_int == current + 1;
    }
    }
    assert(0 && "unknown kind");
    return false;
}
