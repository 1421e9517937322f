/*
 * internal.h — what the files of src/lincheck/ share and nothing else includes.
 *
 * A history keeps every operation twice over: the public struct lincheck_op (strings point to
 * interned copies) and the model's view of its strings as struct lincheck_value, so that the
 * search compares and copies small fixed-size values instead of strings.
 */
#ifndef CHORUS_LINCHECK_INTERNAL_H
#define CHORUS_LINCHECK_INTERNAL_H

#include "lincheck/lincheck.h"

/* A model value. A string that is a canonical 64-bit integer is held as LINCHECK_VALUE_INT so
 * that INCR can compute on it; any other string is its intern id. The same string always gets
 * the same representation, so equality of representations is equality of strings. */
enum lincheck_value_tag { LINCHECK_VALUE_ABSENT = 0, LINCHECK_VALUE_STRING = 1,
                          LINCHECK_VALUE_INT = 2,
                          LINCHECK_VALUE_QUEUE = 3 /* a search state only: a non-empty queue,
                                                      its id in search_queue.c's table */ };
struct lincheck_value {
    int64_t payload; /* STRING: intern id; INT: the integer; ABSENT: 0 */
    uint8_t tag;     /* enum lincheck_value_tag */
};

struct lincheck_record {
    struct lincheck_op op;        /* public copy; strings owned by the intern table */
    uint32_t key_id;              /* intern id of op.key */
    struct lincheck_value value;  /* PUT, CAS: the new value; PUSH: the element; set ops: the
                                     member */
    struct lincheck_value expect; /* CAS: the expected value */
    struct lincheck_value output; /* GET, POP: what was read (ABSENT for null) */
};

enum {
    LINCHECK_RECORDS_PER_CHUNK_LOG2 = 12, /* records live in fixed chunks: pointers stay valid */
    LINCHECK_RECORDS_PER_CHUNK = 1u << LINCHECK_RECORDS_PER_CHUNK_LOG2,
    LINCHECK_STRINGS_MAX = 2 * LINCHECK_OPS_MAX + 16, /* distinct strings in one history */
};

struct lincheck_history {
    struct lincheck_record **chunks; /* chunk_count chunks of LINCHECK_RECORDS_PER_CHUNK */
    uint32_t chunk_count;
    uint32_t count;
    /* intern table: open addressing over string ids, slot value 0 = empty, else id + 1 */
    char **strings;        /* strings[id], NUL-terminated, owned */
    uint32_t *string_lengths;
    uint32_t string_count;
    uint32_t string_capacity;
    uint32_t *slots;
    uint32_t slot_count;   /* power of two, > 2 * string_count */
    uint64_t memory_bytes; /* everything the history allocated */
    char error[LINCHECK_ERROR_BYTES_MAX];
};

const struct lincheck_record *lincheck_history_record(const struct lincheck_history *history,
                                                      uint32_t index);

/* Budget and counters shared by every search of one check. */
struct lincheck_budget {
    int64_t deadline_ns;       /* CLOCK_MONOTONIC; 0: none */
    uint64_t memory_bytes_max; /* one search; 0: none */
    uint64_t states_explored;
    uint64_t memory_bytes_peak;
    bool timed_out;
    bool memory_exceeded;
};

int64_t lincheck_clock_ns(void);

/* An entry of the ops[] given to lincheck_search with this bit set is "relaxed": it may take
 * effect at one instant inside its interval, or never, whatever output it returned (an op that
 * never returned stays optional without a deadline). Shrinking uses it. */
#define LINCHECK_SEARCH_OPTIONAL (UINT32_C(1) << 31)

/* One operation as the search sees it. */
struct lincheck_candidate {
    const struct lincheck_record *record;
    bool required;  /* returned and not relaxed: must be linearized, with the output seen */
    bool bounded;   /* returned: has a return event (required or relaxed) */
};

#define LINCHECK_SYMMETRY_NONE UINT32_MAX

/* Symmetry reduction (symmetry.c). Numbers the classes of interchangeable operations ("twins")
 * among candidates[0..count) of one key: class_of[i] is the class of candidate i, or
 * LINCHECK_SYMMETRY_NONE when it has none (it changes nothing). The search then linearizes,
 * of the candidates of one class, only the one whose return comes first. Returns the number of
 * classes (0 with every class_of[i] NONE when memory ran out, which is always correct).
 * *bytes receives the memory it used at its peak. */
uint32_t lincheck_symmetry_classes(const struct lincheck_candidate *candidates, uint32_t count,
                                   uint32_t *class_of, uint64_t *bytes);

/* Counters (counter.c). A key whose operations are all INCR and GET is a counter: its value
 * starts at 0 (absent) and only grows, one step at a time, so it holds each value once. The
 * INCR that returned n is the only operation that may take it from n - 1 to n, and every
 * operation that returned and needs the value v (an INCR that returned v + 1, a GET that read v)
 * must be linearized before the value leaves v. */
struct lincheck_counter {
    bool active;       /* the key is a counter */
    int64_t *owned;    /* the outputs of INCRs that returned (not relaxed), sorted */
    uint32_t owned_count;
    int64_t *needs;    /* the distinct values needed by operations that returned, sorted */
    uint32_t *need_total;  /* need_total[i]: how many operations need needs[i] */
    uint32_t *need_placed; /* how many of those are linearized now */
    uint32_t need_count;
};

/* Fills `counter` for candidates[0..count) of one key. Returns 0, or -1 when memory ran out
 * (the counter is then inactive, which is always correct). *bytes receives the memory used. */
int lincheck_counter_prepare(struct lincheck_counter *counter,
                             const struct lincheck_candidate *candidates, uint32_t count,
                             uint64_t *bytes);
void lincheck_counter_release(struct lincheck_counter *counter);

/* May an INCR (`required`: it returned and is not relaxed) take the counter from `current` to
 * current + 1 now? Not when another operation that returned still needs `current`, nor when
 * its output is not known and a returned INCR owns current + 1. Always true when inactive. */
bool lincheck_counter_may_advance(const struct lincheck_counter *counter,
                                  const struct lincheck_record *record, bool required,
                                  int64_t current);

/* Records that a required operation was linearized (delta +1) or that this was undone (-1). */
void lincheck_counter_placed(struct lincheck_counter *counter,
                             const struct lincheck_record *record, int delta);

/* Stale and unwritten reads (refute.c). For ops[0..count) of one key (returned or unknown, none
 * relaxed), when the key has no INCR: looks for a GET that no write can explain. Returns 0 when
 * there is none (or memory ran out; the search then decides), else 1 or 2: the operations of a
 * certificate — they cannot be linearized whatever the others did — written to certificate[]
 * as history indices in call order; *minimal says whether relaxing any one of them makes it
 * linearizable. */
uint32_t lincheck_refute_reads(const struct lincheck_history *history, const uint32_t *ops,
                               uint32_t count, uint32_t certificate[2], bool *minimal);

/* Searches for a linearization of the operations ops[0..count) (history indices, all of one
 * key, possibly flagged LINCHECK_SEARCH_OPTIONAL). Returns LINCHECK_OK, LINCHECK_VIOLATION, or
 * LINCHECK_UNKNOWN when the budget ran out (the budget says which bound). */
enum lincheck_verdict lincheck_search(const struct lincheck_history *history,
                                      const uint32_t *ops, uint32_t count,
                                      struct lincheck_budget *budget);

/* Shrinks ops[0..*count) — a non-linearizable set of one key — in place to a small subset S
 * that still cannot be linearized even when every other operation of the set is relaxed
 * (takes effect inside its interval or never, output ignored): S alone shows the violation,
 * whatever the others did. Returns true when S is 1-minimal. */
bool lincheck_shrink(const struct lincheck_history *history, uint32_t *ops, uint32_t *count,
                     struct lincheck_budget *budget);

#endif
