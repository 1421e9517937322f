/*
 * search_order.c — which candidate the search tries next, and which it need not try at all.
 *
 * Every rule here either orders the candidates (which only changes how soon a linearization is
 * found) or skips candidates that some other candidate can always replace (each says why).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/search_internal.h"

/* An op whose output shows that it changed nothing — a get, a cas that failed, a del of 0 —
 * can always go first once the model accepts it: in any linearization that places it later,
 * moving it forward changes no state the others see, and breaks no real-time order since no
 * pending op returned before its call. Linearizing it is then no choice: the search needs no
 * alternative to it, which makes concurrent reads nearly free. */
bool search_read_only(const struct search_node *call)
{
    const struct lincheck_op *op = &call->record->op;
    if (!call->required) return false;
    switch (op->kind) {
    case LINCHECK_GET: return true;
    case LINCHECK_DEL: return op->output_int == 0;
    case LINCHECK_CAS:
        return !op->output_ok || search_value_equal(call->record->expect, call->record->value);
    case LINCHECK_POP: return op->output_null;
    case LINCHECK_SADD: return op->output_int == 0;
    case LINCHECK_SREM: return op->output_int == 0;
    case LINCHECK_SISMEMBER: return true;
    case LINCHECK_PUT:
    case LINCHECK_INCR:
    case LINCHECK_PUSH: return false;
    }
    return false;
}

/* A queue operation's effect depends on the order of every push before it, not only on the
 * state the next operation needs, so the argument of search_unknown_needed does not hold for
 * it: an unknown push of `a` may have to come before a push of `b` that accepts either state
 * (the pop that returns `a` comes later). Unknown queue operations are tried everywhere. */
static bool search_is_queue_op(const struct search_node *call)
{
    enum lincheck_kind kind = call->record->op.kind;
    return kind == LINCHECK_PUSH || kind == LINCHECK_POP;
}

/* Is twin `a` more urgent than twin `b`: its return comes first in the list (none: last), or
 * neither has one and it was called first? Nodes sit in the array in list order. */
static bool search_twin_before(const struct search_node *a, const struct search_node *b)
{
    if (a->match != NULL && b->match != NULL) return a->match < b->match;
    if (a->match != NULL || b->match != NULL) return a->match != NULL;
    return a < b;
}

/* Finds, for every class, its most urgent twin among the current candidates: the calls before
 * the first return still in the list. O(candidates); done once per state visited. */
static void search_twins_scan(struct search *s)
{
    if (++s->stamp == 0) { /* wrapped: forget every old stamp */
        memset(s->twin_stamp, 0, (s->class_count + 1) * sizeof(*s->twin_stamp));
        s->stamp = 1;
    }
    for (struct search_node *node = s->head.next; node != NULL && node->is_call;
         node = node->next) {
        uint32_t c = node->twin_class;
        if (c == LINCHECK_SYMMETRY_NONE) continue;
        if (s->twin_stamp[c] != s->stamp || search_twin_before(node, s->twin_best[c])) {
            s->twin_stamp[c] = s->stamp;
            s->twin_best[c] = node;
        }
    }
    s->twins_valid = true;
}

/* Does a candidate other than `unknown` (an operation with an unknown outcome) need it to take
 * effect now? An operation with an unknown outcome has no deadline, so of all the places it
 * could take effect only one matters: just before the operation that sees its effect. Take a
 * linearization where U (unknown) is followed by Y. If the model accepts Y without U: when Y
 * changes nothing, swap them (Y can go first: U has no return, so the candidates are the same
 * before and after it); when Y writes regardless of the state (a PUT) or U wrote what was
 * there already, drop U (an unknown outcome may be "never"). Only when Y is accepted solely
 * after U — or Y is an optional INCR, whose result depends on U either way — must U stay where
 * it is. Repeating this gives a linearization where every unknown operation is followed by one
 * that needs it, and that one was a candidate when U was placed. So U is tried only when some
 * candidate needs it: with a hundred timed-out writes pending, the search no longer tries each
 * of them at every backtrack. O(candidates). */
static bool search_unknown_needed(struct search *s, const struct search_node *unknown,
                                  struct lincheck_value state)
{
    struct lincheck_value after, ignored;
    if (!search_step(s, unknown->record, false, state, &after)) return false;
    for (const struct search_node *node = s->head.next; node != NULL && node->is_call;
         node = node->next) {
        if (node == unknown || !search_step(s, node->record, node->required, after, &ignored))
            continue;
        bool optional_incr = !node->required && node->record->op.kind == LINCHECK_INCR;
        if (optional_incr || !search_step(s, node->record, node->required, state, &ignored))
            return true;
    }
    return false;
}

/* Pruning besides the model: may `call` be linearized now? Only if it is the most urgent of
 * its twins (symmetry.c), and an INCR of a counter only where counter.c allows it. */
bool search_may_try(struct search *s, const struct search_node *call,
                           struct lincheck_value state)
{
    if (call->twin_class != LINCHECK_SYMMETRY_NONE) {
        if (!s->twins_valid) search_twins_scan(s);
        if (s->twin_best[call->twin_class] != call) return false;
    }
    if (!call->record->op.returned && !search_is_queue_op(call) &&
        !search_unknown_needed(s, call, state))
        return false;
    if (call->record->op.kind != LINCHECK_INCR) return true;
    if (state.tag == LINCHECK_VALUE_STRING) return true; /* the model refuses it anyway */
    return lincheck_counter_may_advance(&s->counter, call->record, call->required,
                                        state.tag == LINCHECK_VALUE_INT ? state.payload : 0);
}

/* The order in which candidates are tried. First those after which the operation whose return
 * comes first (`urgent`, which must be linearized before that return) would be accepted by the
 * model — it is the next goal, and they reach it — then the others; within each group the one
 * whose return comes first (the least slack, so the likeliest to be next), those with no return
 * last in call order. A fixed total order for a given state, so the search can resume after the
 * candidate it tried last. Nodes sit in the array in list order: pointers compare positions. */

static struct search_rank search_rank_of(struct search *s, struct search_node *call,
                                         const struct search_node *urgent,
                                         struct lincheck_value state)
{
    struct lincheck_value next, after;
    bool enables = urgent != NULL && call != urgent &&
                   search_step(s, call->record, call->required, state, &next) &&
                   search_step(s, urgent->record, true, next, &after);
    return (struct search_rank){ .enables = enables || call == urgent, .node = call };
}

static bool search_rank_before(struct search_rank a, struct search_rank b)
{
    if (a.enables != b.enables) return a.enables;
    if (a.node->rank_ns != b.node->rank_ns) return a.node->rank_ns < b.node->rank_ns;
    return search_twin_before(a.node, b.node);
}

static int search_rank_compare(const void *a, const void *b)
{
    const struct search_rank *x = a, *y = b;
    return search_rank_before(*x, *y) ? -1 : search_rank_before(*y, *x) ? 1 : 0;
}

/* Orders the current state's candidates — the calls before the first return still in the
 * list — by search_rank_before, except that a read-only candidate that the model accepts goes
 * first (it is a forced step: see search_read_only; its alternatives are never tried). Done
 * once per state visited: O(candidates log candidates). */
static void search_order_build(struct search *s, struct lincheck_value state)
{
    struct search_node *node = s->head.next, *read_only = NULL;
    for (; node != NULL && node->is_call; node = node->next) {
        struct lincheck_value next;
        if (read_only == NULL && search_read_only(node) && search_may_try(s, node, state) &&
            search_step(s, node->record, node->required, state, &next))
            read_only = node;
    }
    s->order_end = node;
    const struct search_node *urgent = node != NULL && node->required ? node->match : NULL;
    uint32_t n = 0;
    for (node = s->head.next; node != NULL && node->is_call; node = node->next) {
        assert(n < s->node_count);
        s->order[n++] = search_rank_of(s, node, urgent, state);
    }
    qsort(s->order, n, sizeof(*s->order), search_rank_compare);
    for (uint32_t i = 0; read_only != NULL && i < n; i++) {
        if (s->order[i].node != read_only) continue;
        struct search_rank first = s->order[i];
        memmove(&s->order[1], &s->order[0], i * sizeof(*s->order));
        s->order[0] = first;
        break;
    }
    for (uint32_t i = 0; i < n; i++) s->order[i].node->order_index = i;
    s->order_count = n;
    s->order_valid = true;
}

/* Returns the candidate tried after `after` (NULL: the first) in the current state, or NULL
 * when none is left; *end receives the return that ends the candidates (NULL: none). */
struct search_node *search_next(struct search *s, const struct search_node *after,
                                       struct lincheck_value state, struct search_node **end)
{
    if (!s->order_valid) search_order_build(s, state);
    *end = s->order_end;
    uint32_t index = after == NULL ? 0 : after->order_index + 1;
    assert(after == NULL || s->order[after->order_index].node == after);
    return index < s->order_count ? s->order[index].node : NULL;
}
