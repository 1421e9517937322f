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
 * little; a fifty-client register that the plain call order sent through millions of states
 * is decided in a few hundred thousand.
 *
 * Reductions keep the states few (each proved complete where it is made). An operation whose output shows it changed nothing (a
 * get, a failed cas, a del of 0) is linearized as soon as the model accepts it, with no
 * alternative tried (search_read_only says why that is complete): concurrent reads then cost
 * no branching. And operations with an unknown outcome, which have no return in the list
 * (nothing forces them in: the search succeeds once every required operation — one that
 * returned — is linearized), are only tried where they change the model state: an unknown cas
 * that would fail, or a del of an absent key, is the same as never happening. Of interchangeable
 * operations only the most urgent is tried (symmetry.c), and counters follow their own stricter
 * rules (counter.c).
 *
 * Shrinking also asks about "relaxed" operations (LINCHECK_SEARCH_OPTIONAL): ones that may take
 * effect inside their interval, or never. They keep their return in the list. Reaching it means
 * that every way of linearizing the op before its return was tried, so the search "kills" it —
 * the op never happens — as a step of its own on the stack (cached like any other, undone by
 * backtracking, which then goes on popping since a kill has no alternative).
 *
 * The set of linearized operations is a bitset; the operations with a return (required or
 * relaxed) get bits 0..known_count-1 in call order and the unknown ones the words after. The
 * cache stores it compressed: the index of the first word not yet full, then the words up to
 * the last non-zero one of each region. Since calls are linearized roughly in call order, a state costs a few
 * words however long the history is. Its hash is kept incrementally (one random number per
 * operation, xor-ed in and out), so each step costs O(1) besides the rare comparisons.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck/internal.h"

enum {
    SEARCH_CLOCK_CHECK_ITERATIONS = 4096, /* how often the deadline is read */
    SEARCH_CACHE_SLOTS_MIN = 1024,
    SEARCH_ARENA_WORDS_MIN = 4096,
    SEARCH_DOMINANCE_CHAIN_MAX = 64, /* entries search_dominated compares at most */
};

struct search_node {
    struct search_node *prev;
    struct search_node *next;
    struct search_node *match; /* a call: its return (NULL: outcome unknown); a return: its call */
    const struct lincheck_record *record;
    uint32_t bit;
    uint32_t twin_class;       /* a call: its class of twins (symmetry.c), or
                                  LINCHECK_SYMMETRY_NONE */
    uint32_t order_index;      /* a call: its place in the candidate order, while valid */
    bool is_call;
    bool required;             /* returned: must be linearized, with the output seen */
};

struct search_frame {
    struct search_node *call;
    uint32_t entry;              /* the cache entry of the state it led to */
    struct lincheck_value state; /* before the call was linearized */
    bool forced;                 /* a step with no alternative (a kill, or an op that leaves
                                    the state as it is): backtracking goes on past it */
};

/* A candidate and whether it makes the most urgent operation acceptable (search_next). */
struct search_rank {
    bool enables;
    struct search_node *node;
};

struct search_cache_entry {
    uint64_t hash;
    struct lincheck_value state;
    uint64_t words_offset;  /* into the arena: seg1 words then seg2 words */
    uint32_t seg1_start;    /* first word of the known region that is not full */
    uint32_t seg1_words;
    uint32_t seg2_words;    /* words of the unknown region (from its first word) */
    uint64_t known_key;     /* hash of the known region and the state (search_dominated) */
    uint32_t known_next;    /* the previous entry with the same known_key, + 1; 0: none */
    bool failed;            /* its subtree was explored: no linearization from there */
};

struct search {
    struct search_node head;  /* sentinel: head.next is the earliest event */
    struct search_node *nodes;
    uint32_t node_count;
    struct search_frame *stack;
    uint32_t depth;
    uint32_t known_remaining;
    /* bitset of linearized operations */
    uint64_t *words;
    uint64_t *zobrist;        /* one random number per bit index */
    uint32_t known_words;     /* words of the known region; the unknown region follows */
    uint32_t total_words;
    uint32_t known_count;
    uint32_t floor_word;      /* every known word below is full */
    int64_t top_known;        /* every known word above is zero */
    int64_t top_unknown;      /* every unknown word above is zero */
    uint64_t bits_hash;
    uint64_t known_hash;      /* the same over the known region only */
    /* cache */
    struct search_cache_entry *entries;
    uint32_t entry_count;
    uint32_t entry_capacity;
    uint32_t *slots;          /* entry index + 1; 0 empty */
    uint32_t slot_count;
    /* entries by known_key, for search_dominated: open addressing, 0 = empty */
    uint64_t *known_keys;
    uint32_t *known_heads;    /* latest entry with that key, + 1 */
    uint32_t known_slot_count;
    uint32_t known_used;
    uint64_t *arena;
    uint64_t arena_words;
    uint64_t arena_capacity;
    uint64_t memory_bytes;
    struct lincheck_counter counter;
    /* the earliest-deadline twin of each class among the current candidates (symmetry.c) */
    struct search_node **twin_best;
    uint32_t *twin_stamp;     /* twin_best[c] is valid when twin_stamp[c] == stamp */
    uint32_t class_count;
    uint32_t stamp;
    bool twins_valid;         /* twin_best describes the current state's candidates */
    /* the current state's candidates in the order they are tried (search_next) */
    struct search_rank *order;
    uint32_t order_count;
    struct search_node *order_end; /* the return that ends the candidates; NULL: none */
    bool order_valid;
};

static uint64_t search_mix(uint64_t x)
{
    /* splitmix64's finalizer: a bijection that spreads every input bit. */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t search_state_hash(struct lincheck_value state)
{
    return search_mix((uint64_t)state.payload * 4 + state.tag);
}

static bool search_value_equal(struct lincheck_value a, struct lincheck_value b)
{
    return a.tag == b.tag && a.payload == b.payload;
}

/* The sequential model. For an operation that returned: can it take effect on `state` and
 * give the output the client saw, and what state follows. For an unknown outcome: does taking
 * effect change the state (if not, skipping it is the same and cheaper). */
static bool search_step(const struct lincheck_record *record, bool returned,
                        struct lincheck_value state, struct lincheck_value *next)
{
    const struct lincheck_op *op = &record->op;
    const struct lincheck_value absent = { 0, LINCHECK_VALUE_ABSENT };
    *next = state;
    switch (op->kind) {
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

static uint64_t search_word_full(const struct search *s, uint32_t word)
{
    uint32_t valid = s->known_count - word * 64;
    return valid >= 64 ? UINT64_MAX : (UINT64_C(1) << valid) - 1;
}

static void search_bit_set(struct search *s, uint32_t bit)
{
    uint32_t word = bit / 64;
    assert((s->words[word] & (UINT64_C(1) << (bit % 64))) == 0);
    s->words[word] |= UINT64_C(1) << (bit % 64);
    s->bits_hash ^= s->zobrist[bit];
    if (word < s->known_words) s->known_hash ^= s->zobrist[bit];
    if (word < s->known_words) {
        if ((int64_t)word > s->top_known) s->top_known = word;
        while (s->floor_word < s->known_words &&
               s->words[s->floor_word] == search_word_full(s, s->floor_word))
            s->floor_word++;
    } else if ((int64_t)word > s->top_unknown) {
        s->top_unknown = word;
    }
}

static void search_bit_clear(struct search *s, uint32_t bit)
{
    uint32_t word = bit / 64;
    assert((s->words[word] & (UINT64_C(1) << (bit % 64))) != 0);
    s->words[word] &= ~(UINT64_C(1) << (bit % 64));
    s->bits_hash ^= s->zobrist[bit];
    if (word < s->known_words) s->known_hash ^= s->zobrist[bit];
    if (word < s->known_words) {
        if (word < s->floor_word) s->floor_word = word;
        while (s->top_known >= 0 && s->words[s->top_known] == 0) s->top_known--;
    } else {
        while (s->top_unknown >= (int64_t)s->known_words && s->words[s->top_unknown] == 0)
            s->top_unknown--;
    }
}

/* The compressed form of the current bitset (see the top of the file). */
static void search_segments(const struct search *s, uint32_t *seg1_start, uint32_t *seg1_words,
                            uint32_t *seg2_words)
{
    *seg1_start = s->floor_word;
    *seg1_words = s->top_known >= (int64_t)s->floor_word
                      ? (uint32_t)(s->top_known - s->floor_word + 1) : 0;
    *seg2_words = (uint32_t)(s->top_unknown - (int64_t)s->known_words + 1);
}

static bool search_cache_match(const struct search *s, const struct search_cache_entry *entry,
                               uint64_t hash, struct lincheck_value state)
{
    if (entry->hash != hash || !search_value_equal(entry->state, state)) return false;
    uint32_t start, words1, words2;
    search_segments(s, &start, &words1, &words2);
    if (entry->seg1_start != start || entry->seg1_words != words1 || entry->seg2_words != words2)
        return false;
    const uint64_t *stored = &s->arena[entry->words_offset];
    return memcmp(stored, &s->words[start], words1 * sizeof(uint64_t)) == 0 &&
           memcmp(stored + words1, &s->words[s->known_words], words2 * sizeof(uint64_t)) == 0;
}

static int search_cache_grow(struct search *s)
{
    uint32_t slot_count = s->slot_count * 2;
    uint32_t *slots = calloc(slot_count, sizeof(*slots));
    if (slots == NULL) return -1;
    for (uint32_t i = 0; i < s->entry_count; i++) {
        uint32_t slot = (uint32_t)s->entries[i].hash & (slot_count - 1);
        while (slots[slot] != 0) slot = (slot + 1) & (slot_count - 1);
        slots[slot] = i + 1;
    }
    s->memory_bytes += (uint64_t)(slot_count - s->slot_count) * sizeof(*slots);
    free(s->slots);
    s->slots = slots;
    s->slot_count = slot_count;
    return 0;
}

static int search_reserve(struct search *s, uint32_t words)
{
    if (s->entry_count == s->entry_capacity) {
        uint32_t capacity = s->entry_capacity ? s->entry_capacity * 2 : 1024;
        struct search_cache_entry *entries = realloc(s->entries, capacity * sizeof(*entries));
        if (entries == NULL) return -1;
        s->memory_bytes += (uint64_t)(capacity - s->entry_capacity) * sizeof(*entries);
        s->entries = entries;
        s->entry_capacity = capacity;
    }
    if (s->arena_words + words > s->arena_capacity) {
        uint64_t capacity = s->arena_capacity * 2;
        while (capacity < s->arena_words + words) capacity *= 2;
        uint64_t *arena = realloc(s->arena, capacity * sizeof(*arena));
        if (arena == NULL) return -1;
        s->memory_bytes += (capacity - s->arena_capacity) * sizeof(*arena);
        s->arena = arena;
        s->arena_capacity = capacity;
    }
    if ((uint64_t)(s->entry_count + 1) * 2 > s->slot_count) return search_cache_grow(s);
    return 0;
}

static uint64_t search_known_key(const struct search *s, struct lincheck_value state)
{
    return search_mix(s->known_hash ^ search_state_hash(state)) | 1; /* never 0: empty */
}

/* The slot of `key` in the known index: where it is, or the empty slot where it goes. */
static uint32_t search_known_slot(const uint64_t *keys, uint32_t slot_count, uint64_t key)
{
    uint32_t mask = slot_count - 1, slot = (uint32_t)(key >> 32) & mask;
    while (keys[slot] != 0 && keys[slot] != key) slot = (slot + 1) & mask; /* load <= 1/2 */
    return slot;
}

static int search_known_grow(struct search *s)
{
    uint32_t slot_count = s->known_slot_count * 2;
    uint64_t *keys = calloc(slot_count, sizeof(*keys));
    uint32_t *heads = calloc(slot_count, sizeof(*heads));
    if (keys == NULL || heads == NULL) {
        free(keys);
        free(heads);
        return -1;
    }
    for (uint32_t i = 0; i < s->known_slot_count; i++) {
        if (s->known_keys[i] == 0) continue;
        uint32_t slot = search_known_slot(keys, slot_count, s->known_keys[i]);
        keys[slot] = s->known_keys[i];
        heads[slot] = s->known_heads[i];
    }
    s->memory_bytes += (uint64_t)(slot_count - s->known_slot_count) *
                       (sizeof(*keys) + sizeof(*heads));
    free(s->known_keys);
    free(s->known_heads);
    s->known_keys = keys;
    s->known_heads = heads;
    s->known_slot_count = slot_count;
    return 0;
}

/* Files entry `index` (the current state) under its known key. Returns 0, or -1 (memory). */
static int search_known_link(struct search *s, uint32_t index, struct lincheck_value state)
{
    if ((uint64_t)(s->known_used + 1) * 2 > s->known_slot_count && search_known_grow(s) != 0)
        return -1;
    uint64_t key = search_known_key(s, state);
    uint32_t slot = search_known_slot(s->known_keys, s->known_slot_count, key);
    if (s->known_keys[slot] == 0) {
        s->known_keys[slot] = key;
        s->known_used++;
    }
    s->entries[index].known_key = key;
    s->entries[index].known_next = s->known_heads[slot];
    s->known_heads[slot] = index + 1;
    return 0;
}

/* Is the current (set, state) dominated by one whose subtree already failed: the same state,
 * the same operations with a return linearized or killed, and a subset of the operations with
 * an unknown outcome? Then it fails too: any way on from here is a way on from there, the
 * extra unknown operations never happening (which they may). Without this, every combination
 * of timed-out writes that the search placed before a dead end is a new state to explore.
 * Looks at SEARCH_DOMINANCE_CHAIN_MAX entries at most (looking at fewer only prunes less). */
static bool search_dominated(const struct search *s, struct lincheck_value state)
{
    if (s->top_unknown < (int64_t)s->known_words) return false; /* the exact match will do */
    uint64_t key = search_known_key(s, state);
    uint32_t slot = search_known_slot(s->known_keys, s->known_slot_count, key);
    uint32_t start, words1, words2;
    search_segments(s, &start, &words1, &words2);
    uint32_t index = s->known_heads[slot];
    for (uint32_t seen = 0; index != 0 && seen < SEARCH_DOMINANCE_CHAIN_MAX; seen++) {
        const struct search_cache_entry *entry = &s->entries[index - 1];
        index = entry->known_next;
        if (!entry->failed || entry->known_key != key || !search_value_equal(entry->state, state) ||
            entry->seg1_start != start || entry->seg1_words != words1 ||
            entry->seg2_words > words2)
            continue;
        const uint64_t *stored = &s->arena[entry->words_offset];
        if (memcmp(stored, &s->words[start], words1 * sizeof(uint64_t)) != 0) continue;
        bool subset = true;
        for (uint32_t i = 0; i < entry->seg2_words && subset; i++)
            subset = (stored[words1 + i] & ~s->words[s->known_words + i]) == 0;
        if (subset) return true;
    }
    return false;
}

/* Adds the current (bitset, state) to the cache unless it is there. Returns 1 when added, 0
 * when already visited, -1 when out of memory. */
static int search_cache_add(struct search *s, struct lincheck_value state)
{
    uint64_t hash = s->bits_hash ^ search_state_hash(state);
    uint32_t mask = s->slot_count - 1;
    uint32_t slot = (uint32_t)hash & mask;
    for (uint32_t probe = 0; probe < s->slot_count && s->slots[slot] != 0; probe++) {
        if (search_cache_match(s, &s->entries[s->slots[slot] - 1], hash, state)) return 0;
        slot = (slot + 1) & mask;
    }
    uint32_t start, words1, words2;
    search_segments(s, &start, &words1, &words2);
    uint32_t slot_count_before = s->slot_count;
    if (search_reserve(s, words1 + words2) != 0) return -1;
    if (s->slot_count != slot_count_before) {
        slot = (uint32_t)hash & (s->slot_count - 1);
        while (s->slots[slot] != 0) slot = (slot + 1) & (s->slot_count - 1);
    }
    struct search_cache_entry *entry = &s->entries[s->entry_count];
    *entry = (struct search_cache_entry){ .hash = hash, .state = state,
                                          .words_offset = s->arena_words, .seg1_start = start,
                                          .seg1_words = words1, .seg2_words = words2 };
    memcpy(&s->arena[s->arena_words], &s->words[start], words1 * sizeof(uint64_t));
    memcpy(&s->arena[s->arena_words + words1], &s->words[s->known_words],
           words2 * sizeof(uint64_t));
    s->arena_words += words1 + words2;
    s->slots[slot] = ++s->entry_count;
    return search_known_link(s, s->entry_count - 1, state) == 0 ? 1 : -1;
}

/* An op whose output shows that it changed nothing — a get, a cas that failed, a del of 0 —
 * can always go first once the model accepts it: in any linearization that places it later,
 * moving it forward changes no state the others see, and breaks no real-time order since no
 * pending op returned before its call. Linearizing it is then no choice: the search needs no
 * alternative to it, which makes concurrent reads nearly free. */
static bool search_read_only(const struct search_node *call)
{
    const struct lincheck_op *op = &call->record->op;
    if (!call->required) return false;
    switch (op->kind) {
    case LINCHECK_GET: return true;
    case LINCHECK_DEL: return op->output_int == 0;
    case LINCHECK_CAS:
        return !op->output_ok || search_value_equal(call->record->expect, call->record->value);
    case LINCHECK_PUT:
    case LINCHECK_INCR: return false;
    }
    return false;
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
static bool search_unknown_needed(const struct search *s, const struct search_node *unknown,
                                  struct lincheck_value state)
{
    struct lincheck_value after, ignored;
    if (!search_step(unknown->record, false, state, &after)) return false;
    for (const struct search_node *node = s->head.next; node != NULL && node->is_call;
         node = node->next) {
        if (node == unknown || !search_step(node->record, node->required, after, &ignored))
            continue;
        bool optional_incr = !node->required && node->record->op.kind == LINCHECK_INCR;
        if (optional_incr || !search_step(node->record, node->required, state, &ignored))
            return true;
    }
    return false;
}

/* Pruning besides the model: may `call` be linearized now? Only if it is the most urgent of
 * its twins (symmetry.c), and an INCR of a counter only where counter.c allows it. */
static bool search_may_try(struct search *s, const struct search_node *call,
                           struct lincheck_value state)
{
    if (call->twin_class != LINCHECK_SYMMETRY_NONE) {
        if (!s->twins_valid) search_twins_scan(s);
        if (s->twin_best[call->twin_class] != call) return false;
    }
    if (!call->record->op.returned && !search_unknown_needed(s, call, state)) return false;
    if (call->record->op.kind != LINCHECK_INCR) return true;
    if (state.tag == LINCHECK_VALUE_STRING) return true; /* the model refuses it anyway */
    return lincheck_counter_may_advance(&s->counter, call->record, call->required,
                                        state.tag == LINCHECK_VALUE_INT ? state.payload : 0);
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

/* The order in which candidates are tried. First those after which the operation whose return
 * comes first (`urgent`, which must be linearized before that return) would be accepted by the
 * model — it is the next goal, and they reach it — then the others; within each group the one
 * whose return comes first (the least slack, so the likeliest to be next), those with no return
 * last in call order. A fixed total order for a given state, so the search can resume after the
 * candidate it tried last. Nodes sit in the array in list order: pointers compare positions. */

static struct search_rank search_rank_of(struct search_node *call,
                                         const struct search_node *urgent,
                                         struct lincheck_value state)
{
    struct lincheck_value next, after;
    bool enables = urgent != NULL && call != urgent &&
                   search_step(call->record, call->required, state, &next) &&
                   search_step(urgent->record, true, next, &after);
    return (struct search_rank){ .enables = enables || call == urgent, .node = call };
}

static bool search_rank_before(struct search_rank a, struct search_rank b)
{
    if (a.enables != b.enables) return a.enables;
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
            search_step(node->record, node->required, state, &next))
            read_only = node;
    }
    s->order_end = node;
    const struct search_node *urgent = node != NULL && node->required ? node->match : NULL;
    uint32_t n = 0;
    for (node = s->head.next; node != NULL && node->is_call; node = node->next) {
        assert(n < s->node_count);
        s->order[n++] = search_rank_of(node, urgent, state);
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
static struct search_node *search_next(struct search *s, const struct search_node *after,
                                       struct lincheck_value state, struct search_node **end)
{
    if (!s->order_valid) search_order_build(s, state);
    *end = s->order_end;
    uint32_t index = after == NULL ? 0 : after->order_index + 1;
    assert(after == NULL || s->order[after->order_index].node == after);
    return index < s->order_count ? s->order[index].node : NULL;
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
                search_step(call->record, call->required, state, &next)) {
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
