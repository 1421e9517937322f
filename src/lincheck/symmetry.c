/*
 * symmetry.c — of interchangeable operations, the search tries only the most urgent one.
 *
 * Chaos histories repeat themselves: many clients send "incr counter", many time out, and a
 * few values are written over and over. Two operations with the same kind and the same
 * arguments that are either both required (returned, not relaxed) with the same output, or both
 * optional (an unknown outcome, or relaxed by shrinking: they may never happen, and their
 * outputs are ignored) change the model in the same way: they are twins. A
 * search that tries every twin at a point explores every later state once per twin; with k of
 * them pending it explores up to 2^k sets of linearized operations that differ only in which
 * twin took effect. That, not the model, is what made a counter with a few unknown increments
 * run out of memory.
 *
 * The rule (earliest deadline first): when the search linearizes an operation of a class, it
 * takes only the candidate of that class whose return comes first in the event list (one with
 * an unknown outcome has no return and comes last; among those, the one called first). It loses
 * nothing, by an exchange argument. Say a valid continuation linearizes B now while its twin A,
 * also a candidate now (called, and linearizable before every pending return), returns no later
 * than B and is linearized later, at place q, or never. Swap them: A now, B at q (or never).
 * Every output stays the same, since twins change the model in the same way and output the
 * same thing. Real time still holds:
 *   - A now: it is a candidate now.
 *   - B at q: B was a candidate now, so it is still one at q (a candidate stays one until its
 *     return is passed), and its return is not passed at q since A's, no later, was not.
 *   - A never happening: only when A is optional, and then B is too (same role): B never
 *     happens instead.
 * So some valid continuation starts with the earliest-deadline twin, which is all the search
 * needs at each step (it proves completeness step by step, as for its other reductions).
 *
 * Excluded: operations that change nothing (a get, a failed cas, a del of 0), which the search
 * already linearizes without branching, and gets whose output is ignored (they change nothing).
 *
 * This file only numbers the classes: one hash table, O(count) time and memory.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/internal.h"

struct symmetry_class {
    uint64_t hash;
    uint32_t first; /* candidate index + 1 of its first member; 0: empty slot */
    uint32_t id;
};

static uint64_t symmetry_mix(uint64_t x)
{
    /* splitmix64's finalizer */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t symmetry_value_hash(uint64_t seed, struct lincheck_value value)
{
    return symmetry_mix(seed ^ symmetry_mix((uint64_t)value.payload * 4 + value.tag));
}

static bool symmetry_value_equal(struct lincheck_value a, struct lincheck_value b)
{
    return a.tag == b.tag && a.payload == b.payload;
}

/* Does the operation change the model in a way that depends only on its class? Operations
 * that leave the state as it is are excluded (see the top of the file). */
static bool symmetry_eligible(const struct lincheck_candidate *candidate)
{
    const struct lincheck_op *op = &candidate->record->op;
    if (!candidate->required) /* unknown or relaxed; a read changes nothing */
        return op->kind != LINCHECK_GET && op->kind != LINCHECK_SISMEMBER;
    switch (op->kind) {
    case LINCHECK_GET: return false;
    case LINCHECK_DEL: return op->output_int == 1;
    case LINCHECK_CAS: return op->output_ok;
    case LINCHECK_PUT:
    case LINCHECK_INCR:
    case LINCHECK_PUSH: return true;
    case LINCHECK_POP: return !op->output_null;
    case LINCHECK_SADD:
    case LINCHECK_SREM: return op->output_int == 1;
    case LINCHECK_SISMEMBER: return false;
    }
    return false;
}

/* The role of an operation: 1 required, 0 optional (unknown outcome or relaxed). */
static unsigned symmetry_role(const struct lincheck_candidate *candidate)
{
    return candidate->required;
}

/* The class of an operation: kind, arguments, role, and its output when required. */
static uint64_t symmetry_hash(const struct lincheck_candidate *candidate)
{
    const struct lincheck_record *record = candidate->record;
    uint64_t hash = symmetry_mix((uint64_t)record->op.kind * 4 + symmetry_role(candidate));
    hash = symmetry_value_hash(hash, record->value);
    hash = symmetry_value_hash(hash, record->expect);
    if (!candidate->required) return hash;
    hash = symmetry_value_hash(hash, record->output);
    return symmetry_mix(hash ^ ((uint64_t)record->op.output_int * 2 + record->op.output_ok));
}

static bool symmetry_same_class(const struct lincheck_candidate *a,
                                const struct lincheck_candidate *b)
{
    const struct lincheck_record *x = a->record, *y = b->record;
    if (symmetry_role(a) != symmetry_role(b) || x->op.kind != y->op.kind ||
        !symmetry_value_equal(x->value, y->value) || !symmetry_value_equal(x->expect, y->expect))
        return false;
    if (!a->required) return true;
    return symmetry_value_equal(x->output, y->output) && x->op.output_int == y->op.output_int &&
           x->op.output_ok == y->op.output_ok;
}

uint32_t lincheck_symmetry_classes(const struct lincheck_candidate *candidates, uint32_t count,
                                   uint32_t *class_of, uint64_t *bytes)
{
    for (uint32_t i = 0; i < count; i++) class_of[i] = LINCHECK_SYMMETRY_NONE;
    uint32_t slot_count = 16;
    while (slot_count < 2 * (uint64_t)count) slot_count *= 2; /* load at most 1/2 */
    struct symmetry_class *classes = calloc(slot_count, sizeof(*classes));
    *bytes = (uint64_t)slot_count * sizeof(*classes);
    if (classes == NULL) return 0;
    uint32_t mask = slot_count - 1, class_count = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct lincheck_candidate *candidate = &candidates[i];
        if (!symmetry_eligible(candidate)) continue;
        uint64_t hash = symmetry_hash(candidate);
        uint32_t slot = (uint32_t)hash & mask;
        /* bounded: the table is never more than half full */
        while (classes[slot].first != 0 &&
               (classes[slot].hash != hash ||
                !symmetry_same_class(&candidates[classes[slot].first - 1], candidate)))
            slot = (slot + 1) & mask;
        if (classes[slot].first == 0)
            classes[slot] = (struct symmetry_class){ .hash = hash, .first = i + 1,
                                                     .id = class_count++ };
        class_of[i] = classes[slot].id;
    }
    free(classes);
    return class_count;
}
