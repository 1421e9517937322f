/*
 * refute.c — a stale or unwritten read, found without searching.
 *
 * Deciding that a history is NOT linearizable is the search's worst case: it must try every
 * order of the operations before the anomaly, and with fifty clients on one key that is more
 * than any budget. Yet the anomaly chaos tests find most — a read that returns a value that
 * had certainly been overwritten before it was called — can be seen directly, in O(n log n).
 *
 * For a key with no INCR, take a GET r that returned the value v (absent for null). In any
 * linearization, the last operation before r that set the key sets it to v: a writer of v (a
 * PUT of v, a CAS to v that swapped or has an unknown outcome, a DEL or the initial state for
 * absent). Call X a certain overwriter of v: an operation that returned and certainly left a
 * value other than v (a PUT of another value, a CAS that swapped in another value, a DEL when v
 * is a value). If X returned before r was called, and began after a writer W of v returned,
 * then W comes before X, which comes before r: W was not the last writer. So let X* be the
 * certain overwriter of v that returned before r was called and was called last: r has an
 * explanation only if some writer of v was called no later than r returned and returned no
 * earlier than X* was called (an unknown outcome never returns). When none does, r and X*
 * alone cannot be linearized, whatever the other operations did — each takes effect inside its
 * interval or never, and none of them can write v between X* and r — which is the certificate
 * the result reports (r alone when v has no writer at all before r returned). Any certain
 * overwriter called after all those writers returned serves as well as X*; a PUT or DEL is
 * preferred, since it can take effect in any state, which makes the pair minimal.
 *
 * Keys with INCR are left to the search: an INCR writes a value that depends on the state, so
 * that "whatever the others did" would not hold for the certificate.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/internal.h"

#define REFUTE_NEVER INT64_MAX /* the return of an operation with an unknown outcome */

struct refute_event {
    int64_t call_ns;
    int64_t return_ns;           /* REFUTE_NEVER: unknown outcome */
    struct lincheck_value value; /* written (writers, overwriters) or read (reads) */
    uint32_t index;              /* into the history */
    bool is_put;
    bool is_plain;               /* a PUT or a DEL: it can take effect in any state */
};

struct refute_slot {
    struct lincheck_value value;
    int64_t return_ns; /* the latest return of a writer of value seen so far */
    bool used;
    bool put_seen;     /* one of those writers is a PUT (it can take effect in any state) */
};

struct refute {
    struct refute_event *reads, *writers, *overwriters;
    uint32_t read_count, writer_count, overwriter_count;
    int64_t *overwritten_ns;     /* per read: the call of X*, or INT64_MIN when none */
    uint32_t *overwriter_of;     /* per read: X*'s history index */
    int64_t *plain_ns;           /* per read: the same among PUTs and DELs only */
    uint32_t *plain_of;
    struct refute_slot *slots;   /* value -> latest writer return */
    uint32_t slot_count;
    bool ever_written;           /* the unexplained read's value had a writer before it */
    bool written_by_put;         /* ... and one of them was a PUT */
    int64_t latest_write_ns;     /* ... and the latest return of one */
};

static bool refute_value_equal(struct lincheck_value a, struct lincheck_value b)
{
    return a.tag == b.tag && a.payload == b.payload;
}

/* Sorts events by call (by_return: by return). */
static int refute_by_call(const void *a, const void *b)
{
    const struct refute_event *x = a, *y = b;
    return (x->call_ns > y->call_ns) - (x->call_ns < y->call_ns);
}

static int refute_by_return(const void *a, const void *b)
{
    const struct refute_event *x = a, *y = b;
    return (x->return_ns > y->return_ns) - (x->return_ns < y->return_ns);
}

/* Files one operation as a read, a writer and/or a certain overwriter. */
static void refute_classify(struct refute *r, const struct lincheck_record *record,
                            uint32_t index)
{
    const struct lincheck_op *op = &record->op;
    const struct lincheck_value absent = { 0, LINCHECK_VALUE_ABSENT };
    struct refute_event event = { .call_ns = op->call_ns, .index = index,
                                  .return_ns = op->returned ? op->return_ns : REFUTE_NEVER };
    bool writes = false;
    switch (op->kind) {
    case LINCHECK_GET:
        event.value = record->output;
        if (op->returned) r->reads[r->read_count++] = event;
        return;
    case LINCHECK_PUT:
        event.value = record->value;
        event.is_put = event.is_plain = true;
        writes = true;
        break;
    case LINCHECK_DEL:
        event.value = absent;
        event.is_plain = true;
        writes = true;
        break;
    case LINCHECK_CAS:
        /* Every CAS may write: relaxed, as the other operations of a certificate are, a CAS
         * that failed may swap. Only one that swapped certainly overwrites. */
        event.value = record->value;
        writes = true;
        break;
    case LINCHECK_INCR:
    case LINCHECK_PUSH:
    case LINCHECK_POP:
    case LINCHECK_SADD:
    case LINCHECK_SREM:
    case LINCHECK_SISMEMBER:
        assert(0 && "refute: keys with INCR, queues and sets are searched");
        return;
    }
    if (!writes) return;
    r->writers[r->writer_count++] = event;
    if (op->returned && (op->kind != LINCHECK_CAS || op->output_ok))
        r->overwriters[r->overwriter_count++] = event;
}

/* The latest-called of a set of overwriters, for any value: the two latest-called with
 * different values are enough. */
struct refute_latest {
    const struct refute_event *top;
    const struct refute_event *second; /* value != top's */
};

static void refute_latest_add(struct refute_latest *latest, const struct refute_event *x)
{
    if (latest->top == NULL || x->call_ns > latest->top->call_ns) {
        if (latest->top != NULL && !refute_value_equal(x->value, latest->top->value))
            latest->second = latest->top;
        latest->top = x;
    } else if (!refute_value_equal(x->value, latest->top->value) &&
               (latest->second == NULL || x->call_ns > latest->second->call_ns)) {
        latest->second = x;
    }
}

/* The latest-called overwriter of `value`; its call (INT64_MIN: none) and index. */
static int64_t refute_latest_of(const struct refute_latest *latest, struct lincheck_value value,
                                uint32_t *index)
{
    const struct refute_event *last = latest->top;
    if (last != NULL && refute_value_equal(last->value, value)) last = latest->second;
    *index = last ? last->index : UINT32_MAX;
    return last ? last->call_ns : INT64_MIN;
}

/* For each read, X*: the certain overwriter of its value that returned before the read was
 * called and was called last; and the same among PUTs and DELs, which make a certificate
 * that is minimal (see lincheck_refute_reads). */
static void refute_overwritten(struct refute *r)
{
    qsort(r->reads, r->read_count, sizeof(*r->reads), refute_by_call);
    qsort(r->overwriters, r->overwriter_count, sizeof(*r->overwriters), refute_by_return);
    struct refute_latest all = { NULL, NULL }, plain = { NULL, NULL };
    uint32_t next = 0;
    for (uint32_t i = 0; i < r->read_count; i++) {
        const struct refute_event *read = &r->reads[i];
        for (; next < r->overwriter_count && r->overwriters[next].return_ns < read->call_ns;
             next++) {
            refute_latest_add(&all, &r->overwriters[next]);
            if (r->overwriters[next].is_plain) refute_latest_add(&plain, &r->overwriters[next]);
        }
        r->overwritten_ns[i] = refute_latest_of(&all, read->value, &r->overwriter_of[i]);
        r->plain_ns[i] = refute_latest_of(&plain, read->value, &r->plain_of[i]);
    }
}

static struct refute_slot *refute_slot(struct refute *r, struct lincheck_value value)
{
    uint64_t hash = (uint64_t)value.payload * 0x9e3779b97f4a7c15ull + value.tag;
    uint32_t mask = r->slot_count - 1, slot = (uint32_t)(hash >> 32) & mask;
    /* bounded: the table holds at most half as many values as it has slots */
    while (r->slots[slot].used && !refute_value_equal(r->slots[slot].value, value))
        slot = (slot + 1) & mask;
    return &r->slots[slot];
}

/* Finds a read with no explanation; returns its position in reads[] (sorted by call, with
 * overwritten_ns) or read_count when every read has one. */
static uint32_t refute_unexplained(struct refute *r)
{
    struct refute_event *by_return = malloc((r->read_count + 1) * sizeof(*by_return));
    uint32_t found = r->read_count;
    if (by_return == NULL) return found;
    for (uint32_t i = 0; i < r->read_count; i++) {
        by_return[i] = r->reads[i];
        by_return[i].index = i; /* position in reads[] */
    }
    qsort(by_return, r->read_count, sizeof(*by_return), refute_by_return);
    qsort(r->writers, r->writer_count, sizeof(*r->writers), refute_by_call);
    uint32_t next = 0;
    for (uint32_t i = 0; i < r->read_count && found == r->read_count; i++) {
        const struct refute_event *read = &by_return[i];
        for (; next < r->writer_count && r->writers[next].call_ns <= read->return_ns; next++) {
            struct refute_slot *slot = refute_slot(r, r->writers[next].value);
            if (!slot->used || r->writers[next].return_ns > slot->return_ns)
                slot->return_ns = r->writers[next].return_ns;
            slot->value = r->writers[next].value;
            slot->used = true;
            slot->put_seen = slot->put_seen || r->writers[next].is_put;
        }
        const struct refute_slot *slot = refute_slot(r, read->value);
        if (!slot->used || slot->return_ns < r->overwritten_ns[read->index]) {
            found = read->index;
            r->written_by_put = slot->used && slot->put_seen;
            r->ever_written = slot->used;
            r->latest_write_ns = slot->used ? slot->return_ns : INT64_MIN;
        }
    }
    free(by_return);
    return found;
}

static void refute_free(struct refute *r)
{
    free(r->reads);
    free(r->writers);
    free(r->overwriters);
    free(r->overwritten_ns);
    free(r->overwriter_of);
    free(r->plain_ns);
    free(r->plain_of);
    free(r->slots);
}

static int refute_compare_calls(const void *a, const void *b, void *history_arg)
{
    const struct lincheck_history *history = history_arg;
    int64_t x = lincheck_history_op(history, *(const uint32_t *)a)->call_ns;
    int64_t y = lincheck_history_op(history, *(const uint32_t *)b)->call_ns;
    return (x > y) - (x < y);
}

uint32_t lincheck_refute_reads(const struct lincheck_history *history, const uint32_t *ops,
                               uint32_t count, uint32_t certificate[2], bool *minimal)
{
    struct refute r = { .slot_count = 16 };
    while (r.slot_count < 2 * ((uint64_t)count + 1)) r.slot_count *= 2;
    size_t n = (size_t)count + 1; /* + the initial absent value */
    r.reads = malloc(n * sizeof(*r.reads));
    r.writers = malloc(n * sizeof(*r.writers));
    r.overwriters = malloc(n * sizeof(*r.overwriters));
    r.overwritten_ns = malloc(n * sizeof(*r.overwritten_ns));
    r.overwriter_of = malloc(n * sizeof(*r.overwriter_of));
    r.plain_ns = malloc(n * sizeof(*r.plain_ns));
    r.plain_of = malloc(n * sizeof(*r.plain_of));
    r.slots = calloc(r.slot_count, sizeof(*r.slots));
    uint32_t found_count = 0;
    if (!r.reads || !r.writers || !r.overwriters || !r.overwritten_ns || !r.overwriter_of ||
        !r.plain_ns || !r.plain_of || !r.slots)
        goto done; /* out of memory: no refutation, the search decides */
    for (uint32_t i = 0; i < count; i++) {
        const struct lincheck_record *record = lincheck_history_record(history, ops[i]);
        if (record->op.kind > LINCHECK_CAS) goto done; /* a counter, a queue or a set */
        refute_classify(&r, record, ops[i]);
    }
    r.writers[r.writer_count++] = (struct refute_event){
        .call_ns = INT64_MIN, .return_ns = INT64_MIN, .index = UINT32_MAX,
        .value = { 0, LINCHECK_VALUE_ABSENT } };
    refute_overwritten(&r);
    uint32_t read = refute_unexplained(&r);
    if (read == r.read_count) goto done;
    certificate[found_count++] = r.reads[read].index;
    bool overwritten = r.ever_written;
    /* any certain overwriter called after every writer of the value returned will do: a PUT
     * or DEL if there is one */
    uint32_t partner = r.plain_ns[read] > r.latest_write_ns ? r.plain_of[read]
                                                             : r.overwriter_of[read];
    if (overwritten) certificate[found_count++] = partner;
    assert(!overwritten || partner != UINT32_MAX);
    const struct lincheck_op *by = overwritten ? lincheck_history_op(history, partner) : NULL;
    *minimal = !overwritten ||
               ((by->kind == LINCHECK_PUT || by->kind == LINCHECK_DEL) &&
                (r.reads[read].value.tag == LINCHECK_VALUE_ABSENT || r.written_by_put));
    qsort_r(certificate, found_count, sizeof(*certificate), refute_compare_calls,
            (void *)history);
done:
    refute_free(&r);
    return found_count;
}
