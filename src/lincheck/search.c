/*
 * search.c — the linearization search for the operations of one key.
 *
 * Wing & Gong's search as Lowe (2017, "just-in-time linearization") and Porcupine shape it.
 * The calls and returns of the operations form one list in time order. The candidates for the
 * next linearization point are the calls before the first return still in the list (an
 * operation that returned before another was called must come first: the "minimal return"
 * rule). If the model accepts a candidate with the output the client saw, it is linearized —
 * its call and return are lifted out of the list — and the search goes on from the new state.
 * When no candidate is left, the operation of the first return should have been linearized
 * already: the last choice is undone (popped from an explicit stack, never by recursion) and
 * the next candidate after it is tried. Every (set of linearized operations, model state) pair
 * is remembered in a cache; reaching one again cannot lead anywhere new, so it is skipped. That
 * cache is what bounds the search's memory (options.memory_bytes_max).
 *
 * What makes it fast is the order of the candidates (search_next): first the ones after which
 * the operation of the first return — the one that must go next at the latest — is accepted
 * (a write of the value a pending read saw, say), then the one whose return comes first. In a
 * linearizable history that is nearly always right the first time, so the search backtracks
 * little: a 10,000-operation register with fifty clients, which trying candidates in call order
 * ran out of memory on (8 million states), is decided in 160,000.
 *
 * Reductions keep the states few, each proved complete where it is made. An operation whose
 * output shows it changed nothing (a get, a failed cas, a del of 0) is linearized as soon as the
 * model accepts it, with no alternative tried (search_read_only says why that is complete):
 * concurrent reads then cost no branching. Operations with an unknown outcome, which have no
 * return in the list (nothing forces them in: the search succeeds once every required
 * operation — one that returned — is linearized), are only tried where they change the model
 * state and some candidate needs the change. Of interchangeable operations only the most urgent
 * is tried (symmetry.c), and counters follow their own stricter rules (counter.c).
 *
 * Shrinking also asks about "relaxed" operations (LINCHECK_SEARCH_OPTIONAL): ones that may take
 * effect inside their interval, or never. They keep their return in the list. Reaching it means
 * that every way of linearizing the op before its return was tried, so the search "kills" it —
 * the op never happens — as a step of its own on the stack (cached like any other, undone by
 * backtracking, which then goes on popping since a kill has no alternative).
 *
 * The files: search.c (this one: building the event list, the stack, the loop),
 * search_order.c (which candidate to try next, and which not at all), search_cache.c (the set
 * of visited states), search_model.c (the sequential model).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/search_internal.h"

static int search_input_compare(const void *a, const void *b)
{
    const struct lincheck_candidate *x = a, *y = b;
    if (x->record->op.call_ns != y->record->op.call_ns)
        return x->record->op.call_ns < y->record->op.call_ns ? -1 : 1;
    return x->record < y->record ? -1 : x->record > y->record;
}

static int64_t search_node_time(const struct search_node *node)
{
    return node->is_call ? node->record->op.call_ns : node->record->op.return_ns;
}

/* Time order; on a tie calls first (the operations overlap), then by bit for determinism. */
static int search_node_compare(const void *a, const void *b)
{
    const struct search_node *x = a;
    const struct search_node *y = b;
    int64_t tx = search_node_time(x), ty = search_node_time(y);
    if (tx != ty) return tx < ty ? -1 : 1;
    if (x->is_call != y->is_call) return x->is_call ? -1 : 1;
    return x->bit < y->bit ? -1 : x->bit > y->bit;
}

static void *search_alloc(struct search *s, size_t bytes)
{
    s->memory_bytes += bytes;
    return calloc(1, bytes ? bytes : 1);
}

static void search_free(struct search *s)
{
    free(s->nodes);
    free(s->stack);
    free(s->words);
    free(s->zobrist);
    free(s->entries);
    free(s->slots);
    free(s->arena);
    free(s->known_keys);
    free(s->known_heads);
    free(s->twin_best);
    free(s->twin_stamp);
    free(s->order);
    lincheck_counter_release(&s->counter);
    search_queues_free(s);
}

/* Links the sorted nodes into the list and pairs each call with its return (sorting moved
 * them; the bit identifies the operation). */
static int search_link(struct search *s)
{
    struct search_node **return_of = calloc((size_t)s->total_words * 64 + 1, sizeof(*return_of));
    if (return_of == NULL) return -1;
    struct search_node *prev = &s->head;
    for (uint32_t i = 0; i < s->node_count; i++) {
        struct search_node *node = &s->nodes[i];
        node->prev = prev;
        prev->next = node;
        prev = node;
        if (!node->is_call) return_of[node->bit] = node;
    }
    prev->next = NULL;
    for (uint32_t i = 0; i < s->node_count; i++) {
        struct search_node *call = &s->nodes[i];
        if (!call->is_call || !call->record->op.returned) continue;
        call->match = return_of[call->bit];
        assert(call->match != NULL);
        call->match->match = call;
    }
    free(return_of);
    return 0;
}

/* Allocates the search's arrays for `known` operations with a return and `unknown` without. */
static int search_allocate(struct search *s, uint32_t known, uint32_t unknown)
{
    uint32_t count = known + unknown;
    s->known_count = known;
    s->known_words = (known + 63) / 64;
    s->total_words = s->known_words + (unknown + 63) / 64;
    s->nodes = search_alloc(s, (size_t)(known + count) * sizeof(*s->nodes));
    s->stack = search_alloc(s, (size_t)count * sizeof(*s->stack));
    s->words = search_alloc(s, (size_t)s->total_words * sizeof(*s->words));
    s->zobrist = search_alloc(s, (size_t)s->total_words * 64 * sizeof(*s->zobrist));
    s->slot_count = SEARCH_CACHE_SLOTS_MIN;
    s->slots = search_alloc(s, s->slot_count * sizeof(*s->slots));
    s->known_slot_count = SEARCH_CACHE_SLOTS_MIN;
    s->known_keys = search_alloc(s, s->known_slot_count * sizeof(*s->known_keys));
    s->known_heads = search_alloc(s, s->known_slot_count * sizeof(*s->known_heads));
    if (!s->known_keys || !s->known_heads) return -1;
    s->arena_capacity = SEARCH_ARENA_WORDS_MIN; /* never NULL, even while states take no words */
    s->arena = search_alloc(s, s->arena_capacity * sizeof(*s->arena));
    if (!s->arena || !s->nodes || !s->stack || !s->words || !s->zobrist || !s->slots) return -1;
    for (uint64_t i = 0; i < (uint64_t)s->total_words * 64; i++) s->zobrist[i] = search_mix(i);
    s->top_known = -1;
    s->top_unknown = (int64_t)s->known_words - 1;
    return 0;
}

/* Creates a call node per operation and a return node per operation that returned, from the
 * operations in call order; class_of[i] is the twin class of operation i. */
static void search_make_nodes(struct search *s, const struct lincheck_candidate *inputs,
                              const uint32_t *class_of, uint32_t count)
{
    uint32_t next_known = 0, next_unknown = s->known_words * 64, n = 0;
    for (uint32_t i = 0; i < count; i++) {
        bool bounded = inputs[i].bounded;
        assert(class_of[i] == LINCHECK_SYMMETRY_NONE || class_of[i] < s->class_count);
        struct search_node *call = &s->nodes[n++];
        *call = (struct search_node){ .record = inputs[i].record, .is_call = true,
                                      .required = inputs[i].required,
                                      .bit = bounded ? next_known++ : next_unknown++,
                                      .twin_class = class_of[i] };
        if (bounded)
            s->nodes[n++] = (struct search_node){ .record = inputs[i].record, .bit = call->bit,
                                                  .required = inputs[i].required,
                                                  .twin_class = LINCHECK_SYMMETRY_NONE };
    }
    assert(n == s->known_count + count);
    s->node_count = n;
}

struct search_popped {
    struct lincheck_value element;
    int64_t return_ns;
};

static int search_popped_compare(const void *a, const void *b)
{
    const struct search_popped *x = a, *y = b;
    if (x->element.tag != y->element.tag) return x->element.tag < y->element.tag ? -1 : 1;
    if (x->element.payload != y->element.payload)
        return x->element.payload < y->element.payload ? -1 : 1;
    return x->return_ns < y->return_ns ? -1 : x->return_ns > y->return_ns;
}

/* A queue: the order of the pushes is the order in which their elements come out, so among
 * pushes the search tries first the one whose element a pop returned first (its rank is that
 * pop's return; any other call ranks by its own return, one without a return last). Trying
 * concurrent pushes in their return order instead finds a wrong order only when the pops come,
 * thousands of steps later: the search then backtracked through every order in between. Only
 * the order of the candidates changes, so every linearization is still found. Keys that are no
 * queue keep rank 0 everywhere (the order they had). Returns -1 when memory ran out. */
static int search_rank_queue(struct search *s)
{
    uint32_t pops = 0;
    bool queue = false;
    for (uint32_t i = 0; i < s->node_count; i++) {
        const struct search_node *n = &s->nodes[i];
        if (!n->is_call) continue;
        enum lincheck_kind kind = n->record->op.kind;
        queue |= kind == LINCHECK_PUSH || kind == LINCHECK_POP;
        pops += kind == LINCHECK_POP && n->record->op.returned && !n->record->op.output_null;
    }
    if (!queue) return 0;
    struct search_popped *popped = malloc((pops ? pops : 1) * sizeof(*popped));
    if (popped == NULL) return -1;
    s->memory_bytes += (uint64_t)pops * sizeof(*popped);
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->node_count; i++) {
        const struct lincheck_record *r = s->nodes[i].record;
        if (s->nodes[i].is_call && r->op.kind == LINCHECK_POP && r->op.returned &&
            !r->op.output_null)
            popped[n++] = (struct search_popped){ .element = r->output,
                                                  .return_ns = r->op.return_ns };
    }
    assert(n == pops);
    qsort(popped, n, sizeof(*popped), search_popped_compare);
    for (uint32_t i = 0; i < s->node_count; i++) {
        struct search_node *call = &s->nodes[i];
        if (!call->is_call) continue;
        const struct lincheck_op *op = &call->record->op;
        call->rank_ns = op->returned ? op->return_ns : INT64_MAX;
        if (op->kind != LINCHECK_PUSH) continue;
        struct search_popped key = { .element = call->record->value, .return_ns = INT64_MIN };
        /* the first pop of the element: lower bound by binary search */
        uint32_t lo = 0, hi = n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (search_popped_compare(&popped[mid], &key) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo < n && search_value_equal(popped[lo].element, call->record->value))
            call->rank_ns = popped[lo].return_ns;
    }
    free(popped);
    return 0;
}

/* Builds the event list, the bitset layout and an empty cache. Returns -1 on out of memory. */
static int search_init(struct search *s, const struct lincheck_history *history,
                       const uint32_t *ops, uint32_t count)
{
    struct lincheck_candidate *inputs = malloc(count * sizeof(*inputs));
    uint32_t *class_of = malloc(count * sizeof(*class_of));
    int rv = -1;
    if (inputs == NULL || class_of == NULL) goto done;
    uint32_t known = 0;
    for (uint32_t i = 0; i < count; i++) {
        inputs[i].record = lincheck_history_record(history, ops[i] & ~LINCHECK_SEARCH_OPTIONAL);
        inputs[i].bounded = inputs[i].record->op.returned;
        inputs[i].required = inputs[i].bounded && (ops[i] & LINCHECK_SEARCH_OPTIONAL) == 0;
        known += inputs[i].bounded;
        s->known_remaining += inputs[i].required;
    }
    qsort(inputs, count, sizeof(*inputs), search_input_compare);
    uint64_t symmetry_bytes = 0, counter_bytes = 0;
    s->class_count = lincheck_symmetry_classes(inputs, count, class_of, &symmetry_bytes);
    if (lincheck_counter_prepare(&s->counter, inputs, count, &counter_bytes) != 0) goto done;
    s->memory_bytes += symmetry_bytes + counter_bytes +
                       (uint64_t)count * (sizeof(*inputs) + sizeof(*class_of));
    s->twin_best = search_alloc(s, (s->class_count + 1) * sizeof(*s->twin_best));
    s->twin_stamp = search_alloc(s, (s->class_count + 1) * sizeof(*s->twin_stamp));
    s->order = search_alloc(s, count * sizeof(*s->order));
    if (s->twin_best == NULL || s->twin_stamp == NULL || s->order == NULL) goto done;
    if (search_allocate(s, known, count - known) != 0) goto done;
    search_make_nodes(s, inputs, class_of, count);
    qsort(s->nodes, s->node_count, sizeof(*s->nodes), search_node_compare);
    rv = search_link(s);
    if (rv == 0) rv = search_rank_queue(s);
done:
    free(inputs);
    free(class_of);
    return rv;
}

/* Unlinks a linearized call and its return (Knuth's dancing links: the nodes keep their own
 * prev/next so search_unlift can put them back in O(1), in reverse order). */
static void search_lift(struct search_node *call)
{
    call->prev->next = call->next;
    if (call->next) call->next->prev = call->prev;
    struct search_node *match = call->match;
    if (match) {
        match->prev->next = match->next;
        if (match->next) match->next->prev = match->prev;
    }
}

static void search_unlift(struct search_node *call)
{
    struct search_node *match = call->match;
    if (match) {
        match->prev->next = match;
        if (match->next) match->next->prev = match;
    }
    call->prev->next = call;
    if (call->next) call->next->prev = call;
}

/* An INCR of a counter that search_may_try allowed has no alternative (counter.c). */
static bool search_counter_forced(const struct search *s, const struct search_node *call)
{
    return s->counter.active && call->record->op.kind == LINCHECK_INCR;
}

/* Takes `call` out of the list, linearized (the state becomes `next`) or killed (next == state),
 * if the resulting (set, state) pair is new. Returns 1 (done, pushed), 0 (visited before) or
 * -1 (out of memory). */
static int search_push(struct search *s, struct search_node *call, bool forced,
                       struct lincheck_value *state, struct lincheck_value next)
{
    search_bit_set(s, call->bit);
    int added = search_dominated(s, next) ? 0 : search_cache_add(s, next);
    if (added <= 0) {
        search_bit_clear(s, call->bit);
        return added;
    }
    assert(s->depth < s->node_count);
    s->stack[s->depth++] = (struct search_frame){ .call = call, .state = *state,
                                                  .entry = s->entry_count - 1,
                                                  .forced = forced };
    *state = next;
    search_lift(call);
    s->twins_valid = s->order_valid = false;
    if (call->required) {
        s->known_remaining--;
        lincheck_counter_placed(&s->counter, call->record, +1);
    }
    return 1;
}

/* Undoes frames until one that was a choice, and returns its call: the search goes on with
 * the candidates that come after it. NULL when the stack ran empty (no linearization exists). */
static struct search_node *search_backtrack(struct search *s, struct lincheck_value *state)
{
    while (s->depth > 0) { /* bounded by depth */
        struct search_frame frame = s->stack[--s->depth];
        s->entries[frame.entry].failed = true; /* its subtree is explored */
        search_unlift(frame.call);
        search_bit_clear(s, frame.call->bit);
        s->twins_valid = s->order_valid = false;
        if (frame.call->required) {
            s->known_remaining++;
            lincheck_counter_placed(&s->counter, frame.call->record, -1);
        }
        *state = frame.state;
        if (!frame.forced) return frame.call;
    }
    return NULL;
}

static bool search_over_budget(const struct search *s, struct lincheck_budget *budget,
                               uint64_t iterations)
{
    if (budget->memory_bytes_max != 0 && s->memory_bytes > budget->memory_bytes_max) {
        budget->memory_exceeded = true;
        return true;
    }
    if (budget->deadline_ns != 0 && iterations % SEARCH_CLOCK_CHECK_ITERATIONS == 0 &&
        lincheck_clock_ns() > budget->deadline_ns) {
        budget->timed_out = true;
        return true;
    }
    return false;
}

/* The search. Terminates: every linearization adds a new cache entry (finitely many; memory is
 * bounded by the budget), and between two of them it only moves on to later candidates or
 * pops. */
static enum lincheck_verdict search_run(struct search *s, struct lincheck_budget *budget)
{
    struct lincheck_value state = { 0, LINCHECK_VALUE_ABSENT };
    struct search_node *tried = NULL; /* the last candidate tried in this state */
    for (uint64_t iterations = 1;; iterations++) {
        if (s->known_remaining == 0) return LINCHECK_OK;
        if (search_over_budget(s, budget, iterations)) return LINCHECK_UNKNOWN;
        struct search_node *end = NULL;
        struct search_node *call = search_next(s, tried, state, &end);
        int pushed = 0;
        bool dead = false;
        if (call != NULL) {
            tried = call;
            struct lincheck_value next;
            if (search_may_try(s, call, state) &&
                search_step(s, call->record, call->required, state, &next)) {
                bool forced = search_read_only(call) || search_counter_forced(s, call);
                pushed = search_push(s, call, forced, &state, next);
                dead = pushed == 0 && forced; /* explored before: a dead end */
            }
        } else if (end != NULL && !end->required) {
            /* a relaxed op's window closes: it never happens */
            pushed = search_push(s, end->match, true, &state, state);
            dead = pushed == 0; /* explored before: a dead end */
        } else {
            assert(end != NULL); /* a required op remains, so its return is ahead */
            dead = true; /* a required op should have been linearized: dead end */
        }
        if (pushed < 0) {
            budget->memory_exceeded = true;
            return LINCHECK_UNKNOWN;
        }
        if (pushed > 0) {
            tried = NULL;
        } else if (dead) {
            if (s->depth == 0) return LINCHECK_VIOLATION;
            tried = search_backtrack(s, &state);
            assert(tried != NULL || s->depth == 0);
            if (tried == NULL) return LINCHECK_VIOLATION;
        }
    }
}

enum lincheck_verdict lincheck_search(const struct lincheck_history *history,
                                      const uint32_t *ops, uint32_t count,
                                      struct lincheck_budget *budget)
{
    struct search s;
    memset(&s, 0, sizeof(s));
    s.memory_bytes_max = budget->memory_bytes_max;
    enum lincheck_verdict verdict;
    if (search_init(&s, history, ops, count) != 0) {
        budget->memory_exceeded = true;
        verdict = LINCHECK_UNKNOWN;
    } else {
        verdict = search_run(&s, budget);
    }
    budget->states_explored += s.entry_count;
    if (s.memory_bytes > budget->memory_bytes_peak) budget->memory_bytes_peak = s.memory_bytes;
    search_free(&s);
    return verdict;
}
