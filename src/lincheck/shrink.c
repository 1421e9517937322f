/*
 * shrink.c — from "this key cannot be linearized" to the few operations that show why.
 *
 * A failing key may hold thousands of operations; a person needs the handful that conflict.
 * An operation dropped from the set is not deleted but relaxed — it may take effect at one
 * instant inside its interval, or never, and its output is ignored — so the set that remains is
 * a certificate on its own: whatever the other operations did, these cannot be ordered. (Deleting instead would report a
 * lone read of a value "never written" once the write that explains it is gone.)
 * Removing operations can flip the verdict either way, so there is no exact shortcut; we search
 * like delta debugging (Zeller's ddmin), keeping any smaller set that still fails:
 *   1. the shortest prefix in call order that still fails (bisection: the anomaly usually
 *      sits early, and later operations only slow every following search down);
 *   2. drop chunks of half, a quarter... of the set, then single operations, until a whole
 *      pass of single drops changes nothing: the set is then 1-minimal.
 * Every search has the check's memory bound; shrinking as a whole has its own time bound so
 * that a large failing history still gets its verdict quickly.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/internal.h"

enum {
    SHRINK_SEARCHES_MAX = 20000,      /* searches for one key */
    SHRINK_SECONDS_MAX = 10,          /* wall-clock time for one key */
};

struct shrink {
    const struct lincheck_history *history;
    struct lincheck_budget *budget;  /* the check's: receives the counters */
    int64_t deadline_ns;
    uint32_t searches;
    bool out_of_budget;
    const uint32_t *all;   /* every op of the key, in call order */
    uint32_t count;
    bool *kept;            /* kept[i]: all[i] is in the set; the others are relaxed */
    uint32_t *candidate;   /* scratch for the ops given to one search */
};

/* Does the set kept[] still fail, the other operations being relaxed? A search that runs out
 * of memory counts as "no" (the smaller set is not taken); one that runs out of time ends the
 * shrinking. */
static bool shrink_fails(struct shrink *shrink)
{
    if (shrink->searches >= SHRINK_SEARCHES_MAX || lincheck_clock_ns() > shrink->deadline_ns) {
        shrink->out_of_budget = true;
        return false;
    }
    shrink->searches++;
    uint32_t n = 0;
    for (uint32_t i = 0; i < shrink->count; i++) {
        const struct lincheck_op *op = lincheck_history_op(shrink->history, shrink->all[i]);
        if (shrink->kept[i]) shrink->candidate[n++] = shrink->all[i];
        else if (op->kind != LINCHECK_GET && op->kind != LINCHECK_SISMEMBER) /* a relaxed read
                                                                        changes nothing */
            shrink->candidate[n++] = shrink->all[i] | LINCHECK_SEARCH_OPTIONAL;
    }
    struct lincheck_budget budget = { .deadline_ns = shrink->deadline_ns,
                                      .memory_bytes_max = shrink->budget->memory_bytes_max };
    enum lincheck_verdict verdict = lincheck_search(shrink->history, shrink->candidate, n, &budget);
    shrink->budget->states_explored += budget.states_explored;
    if (budget.memory_bytes_peak > shrink->budget->memory_bytes_peak)
        shrink->budget->memory_bytes_peak = budget.memory_bytes_peak;
    if (budget.timed_out) shrink->out_of_budget = true;
    return verdict == LINCHECK_VIOLATION;
}

static int shrink_call_compare(const void *a, const void *b, void *history_arg)
{
    const struct lincheck_history *history = history_arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int64_t cx = lincheck_history_op(history, x)->call_ns;
    int64_t cy = lincheck_history_op(history, y)->call_ns;
    if (cx != cy) return cx < cy ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void shrink_keep_prefix(struct shrink *shrink, uint32_t length)
{
    for (uint32_t i = 0; i < shrink->count; i++) shrink->kept[i] = i < length;
}

/* Step 1: the shortest failing prefix, found by bisection (a heuristic: failure is not
 * monotonic in the prefix length, but the invariant "prefix `high` fails" holds throughout). */
static void shrink_prefix(struct shrink *shrink)
{
    uint32_t low = 1, high = shrink->count;
    while (low < high && !shrink->out_of_budget) {
        uint32_t middle = low + (high - low) / 2;
        shrink_keep_prefix(shrink, middle);
        if (shrink_fails(shrink)) high = middle;
        else low = middle + 1;
    }
    shrink_keep_prefix(shrink, high);
}

/* Tries to drop up to `length` kept ops, starting at the kept op at position `start` of all[].
 * *removed says whether the set still fails without them. Returns the position after the chunk. */
static uint32_t shrink_try_chunk(struct shrink *shrink, uint32_t start, uint32_t length,
                                 bool *removed)
{
    uint32_t end = start, taken = 0;
    for (; end < shrink->count && taken < length; end++)
        if (shrink->kept[end]) {
            shrink->kept[end] = false;
            taken++;
        }
    uint32_t left = 0;
    for (uint32_t i = 0; i < shrink->count; i++) left += shrink->kept[i];
    if (taken > 0 && left > 0 && shrink_fails(shrink)) {
        *removed = true;
        return end;
    }
    return end; /* the caller restores kept[] */
}

bool lincheck_shrink(const struct lincheck_history *history, uint32_t *ops, uint32_t *count,
                     struct lincheck_budget *budget)
{
    assert(*count > 0);
    int64_t deadline = lincheck_clock_ns() + (int64_t)SHRINK_SECONDS_MAX * 1000000000;
    if (budget->deadline_ns != 0 && budget->deadline_ns < deadline) deadline = budget->deadline_ns;
    qsort_r(ops, *count, sizeof(*ops), shrink_call_compare, (void *)history);
    struct shrink shrink = { .history = history, .budget = budget, .deadline_ns = deadline,
                             .all = ops, .count = *count };
    shrink.kept = calloc(*count, sizeof(*shrink.kept));
    shrink.candidate = malloc(*count * sizeof(*shrink.candidate));
    bool *before = malloc(*count * sizeof(*before));
    bool minimal = false;
    if (shrink.kept == NULL || shrink.candidate == NULL || before == NULL) goto done;
    shrink_prefix(&shrink);
    uint32_t kept_count = 0;
    for (uint32_t i = 0; i < *count; i++) kept_count += shrink.kept[i];
    uint32_t chunk = kept_count / 2 > 0 ? kept_count / 2 : 1;
    /* Bounded by SHRINK_SEARCHES_MAX: every pass runs at least one search. */
    while (!shrink.out_of_budget) {
        bool removed = false;
        for (uint32_t position = 0; position < *count && !shrink.out_of_budget;) {
            while (position < *count && !shrink.kept[position]) position++;
            if (position == *count) break;
            memcpy(before, shrink.kept, *count * sizeof(*before));
            bool chunk_removed = false;
            uint32_t end = shrink_try_chunk(&shrink, position, chunk, &chunk_removed);
            if (!chunk_removed) memcpy(shrink.kept, before, *count * sizeof(*before));
            removed = removed || chunk_removed;
            position = end;
        }
        if (chunk == 1 && !removed && !shrink.out_of_budget) {
            minimal = true;
            break;
        }
        if (chunk > 1) chunk /= 2;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < *count; i++)
        if (shrink.kept[i]) ops[n++] = ops[i];
    *count = n;
done:
    free(shrink.kept);
    free(shrink.candidate);
    free(before);
    return minimal;
}
