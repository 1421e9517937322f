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
                          LINCHECK_VALUE_INT = 2 };
struct lincheck_value {
    int64_t payload; /* STRING: intern id; INT: the integer; ABSENT: 0 */
    uint8_t tag;     /* enum lincheck_value_tag */
};

struct lincheck_record {
    struct lincheck_op op;        /* public copy; strings owned by the intern table */
    uint32_t key_id;              /* intern id of op.key */
    struct lincheck_value value;  /* PUT, CAS: the new value */
    struct lincheck_value expect; /* CAS: the expected value */
    struct lincheck_value output; /* GET: what was read (ABSENT for null) */
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
