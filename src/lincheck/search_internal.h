/*
 * search_internal.h — what the files of the linearization search share (see search.c).
 */
#ifndef CHORUS_LINCHECK_SEARCH_INTERNAL_H
#define CHORUS_LINCHECK_SEARCH_INTERNAL_H

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
    int64_t rank_ns;           /* a call: tried before candidates with a larger one (after
                                  "enables"); 0 for every call of a key that is no queue */
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

/* One queue state of search_queue.c: elements arena[offset..offset + length). */
struct search_queue_entry {
    uint64_t hash;
    uint64_t offset;
    uint32_t length;
};

/* Every queue state the search reached, interned (search_queue.c). */
struct search_queues {
    struct search_queue_entry *entries; /* by id */
    uint32_t count;
    uint32_t capacity;
    struct lincheck_value *arena;
    uint64_t arena_used;
    uint64_t arena_capacity;
    uint32_t *slots;    /* open addressing over ids, id + 1; 0 empty */
    uint32_t slot_count;
    bool failed;        /* memory ran out: the search must answer unknown */
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
    uint64_t memory_bytes_max; /* the budget's; 0: none. The cache does not grow past it */
    struct lincheck_counter counter;
    struct search_queues queues;
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

/* search_model.c: hashing and the sequential model. */
uint64_t search_mix(uint64_t x);
uint64_t search_state_hash(struct lincheck_value state);
bool search_value_equal(struct lincheck_value a, struct lincheck_value b);
bool search_step(struct search *s, const struct lincheck_record *record, bool returned,
                 struct lincheck_value state, struct lincheck_value *next);

/* search_queue.c: queue states (see there). */
uint32_t search_queue_length(const struct search *s, struct lincheck_value state);
struct lincheck_value search_queue_head(const struct search *s, struct lincheck_value state);
struct lincheck_value search_queue_push(struct search *s, struct lincheck_value state,
                                        struct lincheck_value element);
struct lincheck_value search_queue_pop(struct search *s, struct lincheck_value state);
void search_queues_free(struct search *s);

/* search_cache.c: the bitset of linearized operations and the cache of visited states. */
void search_bit_set(struct search *s, uint32_t bit);
void search_bit_clear(struct search *s, uint32_t bit);
bool search_dominated(const struct search *s, struct lincheck_value state);
int search_cache_add(struct search *s, struct lincheck_value state);

/* search_order.c: the candidates of the current state, in the order they are tried. */
bool search_read_only(const struct search_node *call);
bool search_may_try(struct search *s, const struct search_node *call,
                    struct lincheck_value state);
struct search_node *search_next(struct search *s, const struct search_node *after,
                                struct lincheck_value state, struct search_node **end);

#endif
