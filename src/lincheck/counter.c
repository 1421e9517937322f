/*
 * counter.c — what the search knows about counters that the generic model does not.
 *
 * In a key whose operations are all INCR and GET, the value starts absent (0) and every INCR
 * adds one, so the value passes through 1, 2, 3... once each, in order. Two consequences:
 *   - An INCR that returned n must be the one that moved the value from n - 1 to n: if
 *     anything else does, the value never comes back to n - 1 and that INCR can never be
 *     linearized. So an INCR with no known output (unknown outcome, or relaxed by shrinking)
 *     is tried only where no returned INCR owns the next value.
 *   - Every operation that returned and needs the value v — the INCR that returned v + 1, a GET
 *     that read v (0 for a GET that read nothing) — must be linearized before the value leaves
 *     v. So no INCR may move the value on from v while one of them is still pending.
 * The generic search finds both dead ends only when it reaches the return of the operation left
 * behind, possibly thousands of events later, after trying every way of placing the INCRs with
 * unknown outcomes in between: a 4,000-op counter with a few timeouts exhausted a gigabyte that
 * way. Both rules only cut branches that cannot lead to a linearization.
 *
 * And then an INCR that the rules allow needs no alternative (the search linearizes it as a
 * forced step, like a read). At value v, with nothing that returned still needing v, the only
 * operations that can be linearized are INCRs (a GET must read v, and none that returned is left
 * to) — the owner of v + 1 if there is one, else the most urgent optional INCR (symmetry.c) —
 * and the only other steps are relaxed operations whose window closes. Whatever valid
 * continuation exists, the INCR the search found can be moved to its front: it is a candidate
 * now, and moving it earlier only passes over steps that do not touch the value. So a counter
 * is decided in one pass, and a non-linearizable one is proved so without backtracking.
 */
#include <assert.h>
#include <stdlib.h>

#include "lincheck/internal.h"

static int counter_compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The index of `value` in sorted values[0..count), or count when absent. O(log count). */
static uint32_t counter_find(const int64_t *values, uint32_t count, int64_t value)
{
    uint32_t low = 0, high = count;
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (values[middle] < value) low = middle + 1;
        else high = middle;
    }
    return low < count && values[low] == value ? low : count;
}

static bool counter_is_counter(const struct lincheck_candidate *candidates, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        enum lincheck_kind kind = candidates[i].record->op.kind;
        if (kind != LINCHECK_INCR && kind != LINCHECK_GET) return false;
    }
    return true;
}

/* The value a returned operation needs the counter to hold when it is linearized; false when
 * it needs none that the counter can hold (it then can never be linearized: the generic search
 * finds that out on its own). */
static bool counter_need(const struct lincheck_record *record, int64_t *need)
{
    if (record->op.kind == LINCHECK_INCR) {
        if (record->op.output_int < 1) return false;
        *need = record->op.output_int - 1;
        return true;
    }
    if (record->output.tag == LINCHECK_VALUE_ABSENT) {
        *need = 0;
        return true;
    }
    *need = record->output.payload;
    return record->output.tag == LINCHECK_VALUE_INT && record->output.payload > 0;
}

/* Sorts values[0..count) and folds repeats into need_total. Returns the distinct count. */
static uint32_t counter_fold(struct lincheck_counter *counter, uint32_t count)
{
    qsort(counter->needs, count, sizeof(*counter->needs), counter_compare);
    uint32_t distinct = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (distinct > 0 && counter->needs[distinct - 1] == counter->needs[i]) {
            counter->need_total[distinct - 1]++;
            continue;
        }
        counter->needs[distinct] = counter->needs[i];
        counter->need_total[distinct++] = 1;
    }
    return distinct;
}

int lincheck_counter_prepare(struct lincheck_counter *counter,
                             const struct lincheck_candidate *candidates, uint32_t count,
                             uint64_t *bytes)
{
    *counter = (struct lincheck_counter){ .active = false };
    *bytes = 0;
    if (!counter_is_counter(candidates, count)) return 0;
    size_t slots = count ? count : 1;
    counter->owned = malloc(slots * sizeof(*counter->owned));
    counter->needs = malloc(slots * sizeof(*counter->needs));
    counter->need_total = malloc(slots * sizeof(*counter->need_total));
    counter->need_placed = calloc(slots, sizeof(*counter->need_placed));
    *bytes = (uint64_t)slots * (2 * sizeof(int64_t) + 2 * sizeof(uint32_t));
    if (!counter->owned || !counter->needs || !counter->need_total || !counter->need_placed) {
        lincheck_counter_release(counter);
        return -1;
    }
    uint32_t needs = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct lincheck_record *record = candidates[i].record;
        if (!candidates[i].required) continue;
        if (record->op.kind == LINCHECK_INCR)
            counter->owned[counter->owned_count++] = record->op.output_int;
        if (counter_need(record, &counter->needs[needs])) needs++;
    }
    qsort(counter->owned, counter->owned_count, sizeof(*counter->owned), counter_compare);
    counter->need_count = counter_fold(counter, needs);
    counter->active = true;
    return 0;
}

void lincheck_counter_release(struct lincheck_counter *counter)
{
    free(counter->owned);
    free(counter->needs);
    free(counter->need_total);
    free(counter->need_placed);
    *counter = (struct lincheck_counter){ .active = false };
}

bool lincheck_counter_may_advance(const struct lincheck_counter *counter,
                                  const struct lincheck_record *record, bool required,
                                  int64_t current)
{
    if (!counter->active || current == INT64_MAX) return true;
    assert(record->op.kind == LINCHECK_INCR);
    if (!required && counter_find(counter->owned, counter->owned_count, current + 1) !=
                         counter->owned_count)
        return false;
    uint32_t index = counter_find(counter->needs, counter->need_count, current);
    if (index == counter->need_count) return true;
    /* a returned INCR that needs `current` is itself one of the pending ones */
    uint32_t pending = counter->need_total[index] - counter->need_placed[index];
    return pending == (required && record->op.output_int == current + 1 ? 1u : 0u);
}

void lincheck_counter_placed(struct lincheck_counter *counter,
                             const struct lincheck_record *record, int delta)
{
    int64_t need;
    if (!counter->active || !counter_need(record, &need)) return;
    uint32_t index = counter_find(counter->needs, counter->need_count, need);
    assert(index < counter->need_count);
    if (delta > 0) {
        assert(counter->need_placed[index] < counter->need_total[index]);
        counter->need_placed[index]++;
    } else {
        assert(counter->need_placed[index] > 0);
        counter->need_placed[index]--;
    }
}
