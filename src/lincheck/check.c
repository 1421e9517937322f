/*
 * check.c — the whole-history check: split by key, search each key, shrink the failure.
 *
 * Linearizability is local (Herlihy & Wing 1990) and the key-value model is a product of one
 * register per key, so the history is linearizable iff the sub-history of every key is (the
 * P-compositionality of Horn & Kroening 2015). Searching keys separately turns one search over
 * n operations into many tiny ones: with 1,000 keys a 100,000-operation history costs about as
 * much as 1,000 histories of 100.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/internal.h"

/* The search that may improve a refutation's certificate stops at this (and the check's) bound. */
#define CHECK_REFUTED_MEMORY_BYTES_MAX (UINT64_C(64) << 20)

struct lincheck_options lincheck_options_default(void)
{
    return (struct lincheck_options){ .timeout_s = 60, .memory_bytes_max = UINT64_C(1) << 30 };
}

static int check_key_compare(const void *a, const void *b, void *history_arg)
{
    const struct lincheck_history *history = history_arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint32_t kx = lincheck_history_record(history, x)->key_id;
    uint32_t ky = lincheck_history_record(history, y)->key_id;
    if (kx != ky) return kx < ky ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void check_set_key(struct lincheck_result *result, const struct lincheck_history *history,
                          uint32_t index)
{
    snprintf(result->key, sizeof(result->key), "%s", lincheck_history_op(history, index)->key);
}

/* Fills the result for a violation of the key of ops[0..count), shrunk first. */
static void check_report_violation(const struct lincheck_history *history, uint32_t *ops,
                                   uint32_t count, struct lincheck_budget *budget,
                                   struct lincheck_result *result)
{
    check_set_key(result, history, ops[0]);
    result->minimal = lincheck_shrink(history, ops, &count, budget);
    result->op_count = count;
    for (uint32_t i = 0; i < count && i < LINCHECK_RESULT_OPS_MAX; i++) {
        result->op_index[i] = ops[i];
        result->op_line[i] = lincheck_history_op(history, ops[i])->line;
    }
}

/* Fills the result for a violation that refute.c proved with a certificate of its own. */
static void check_report_certificate(const struct lincheck_history *history,
                                     const uint32_t *ops, uint32_t count, bool minimal,
                                     struct lincheck_result *result)
{
    check_set_key(result, history, ops[0]);
    result->minimal = minimal;
    result->op_count = count;
    for (uint32_t i = 0; i < count && i < LINCHECK_RESULT_OPS_MAX; i++) {
        result->op_index[i] = ops[i];
        result->op_line[i] = lincheck_history_op(history, ops[i])->line;
    }
}

/* A key known to be NOT linearizable from a certificate that may not be minimal: a search and
 * shrinking within CHECK_REFUTED_MEMORY_BYTES_MAX may find a minimal set; if they run out, the
 * certificate is reported as it is. */
static enum lincheck_verdict check_key_refuted(const struct lincheck_history *history,
                                               uint32_t *ops, uint32_t count,
                                               struct lincheck_budget *budget,
                                               const uint32_t *certificate,
                                               uint32_t certificate_count,
                                               struct lincheck_result *result)
{
    struct lincheck_budget small = { .deadline_ns = budget->deadline_ns,
                                     .memory_bytes_max = CHECK_REFUTED_MEMORY_BYTES_MAX };
    if (budget->memory_bytes_max != 0 && budget->memory_bytes_max < small.memory_bytes_max)
        small.memory_bytes_max = budget->memory_bytes_max;
    enum lincheck_verdict verdict = lincheck_search(history, ops, count, &small);
    assert(verdict != LINCHECK_OK); /* the certificate proves otherwise */
    if (verdict == LINCHECK_VIOLATION) check_report_violation(history, ops, count, &small, result);
    else check_report_certificate(history, certificate, certificate_count, false, result);
    budget->states_explored += small.states_explored;
    if (small.memory_bytes_peak > budget->memory_bytes_peak)
        budget->memory_bytes_peak = small.memory_bytes_peak;
    return LINCHECK_VIOLATION;
}

/* Decides one key. Reads with an unknown outcome change nothing and constrain nothing: they
 * are dropped here, before any search. A stale or unwritten read is looked for first (refute.c:
 * cheap, and it spares the search its worst case), then the search decides. Returns the
 * verdict of the key. */
static enum lincheck_verdict check_key(const struct lincheck_history *history, uint32_t *ops,
                                       uint32_t count, struct lincheck_budget *budget,
                                       struct lincheck_result *result)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct lincheck_op *op = lincheck_history_op(history, ops[i]);
        if (op->returned || (op->kind != LINCHECK_GET && op->kind != LINCHECK_SISMEMBER))
            ops[kept++] = ops[i];
    }
    if (kept == 0) return LINCHECK_OK;
    uint32_t certificate[2];
    bool minimal = false;
    uint32_t certificate_count = lincheck_refute_reads(history, ops, kept, certificate, &minimal);
    if (certificate_count > 0 && minimal) {
        check_report_certificate(history, certificate, certificate_count, true, result);
        return LINCHECK_VIOLATION;
    }
    if (certificate_count > 0) return check_key_refuted(history, ops, kept, budget, certificate,
                                                        certificate_count, result);
    enum lincheck_verdict verdict = lincheck_search(history, ops, kept, budget);
    if (verdict == LINCHECK_VIOLATION) check_report_violation(history, ops, kept, budget, result);
    return verdict;
}

enum lincheck_verdict lincheck_check(const struct lincheck_history *history,
                                     const struct lincheck_options *options,
                                     struct lincheck_result *result)
{
    assert(history != NULL);
    assert(result != NULL);
    struct lincheck_options defaults = lincheck_options_default();
    if (options == NULL) options = &defaults;
    memset(result, 0, sizeof(*result));
    int64_t start_ns = lincheck_clock_ns();
    struct lincheck_budget budget = { .memory_bytes_max = options->memory_bytes_max };
    if (options->timeout_s > 0)
        budget.deadline_ns = start_ns + (int64_t)(options->timeout_s * 1e9);

    uint32_t count = history->count;
    uint32_t *order = malloc((count ? count : 1) * sizeof(*order));
    if (order == NULL) {
        result->verdict = LINCHECK_UNKNOWN;
        snprintf(result->message, sizeof(result->message), "out of memory");
        return result->verdict;
    }
    for (uint32_t i = 0; i < count; i++) order[i] = i;
    qsort_r(order, count, sizeof(*order), check_key_compare, (void *)history);

    enum lincheck_verdict verdict = LINCHECK_OK;
    for (uint32_t begin = 0; begin < count;) {
        uint32_t key_id = lincheck_history_record(history, order[begin])->key_id;
        uint32_t end = begin;
        while (end < count && lincheck_history_record(history, order[end])->key_id == key_id) end++;
        budget.timed_out = budget.memory_exceeded = false;
        enum lincheck_verdict key_verdict;
        if (budget.deadline_ns != 0 && lincheck_clock_ns() > budget.deadline_ns) {
            budget.timed_out = true; /* many small keys: searches too short to see the clock */
            key_verdict = LINCHECK_UNKNOWN;
        } else {
            key_verdict = check_key(history, &order[begin], end - begin, &budget, result);
        }
        result->keys_checked++;
        if (key_verdict == LINCHECK_VIOLATION) {
            verdict = LINCHECK_VIOLATION;
            break;
        }
        if (key_verdict == LINCHECK_UNKNOWN && verdict == LINCHECK_OK) {
            verdict = LINCHECK_UNKNOWN;
            check_set_key(result, history, order[begin]);
            snprintf(result->message, sizeof(result->message), "%s",
                     budget.timed_out ? "timeout" : "memory budget exceeded");
        }
        if (budget.timed_out) break; /* no time left for the other keys either */
        begin = end;
    }
    free(order);
    result->verdict = verdict;
    if (verdict == LINCHECK_VIOLATION) result->message[0] = '\0';
    result->states_explored = budget.states_explored;
    result->memory_bytes_peak = budget.memory_bytes_peak;
    result->seconds = (double)(lincheck_clock_ns() - start_ns) / 1e9;
    return verdict;
}
