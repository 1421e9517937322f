/*
 * lincheck.h — a linearizability checker for key-value histories.
 *
 * A history is what clients saw: for every operation its client, the call instant, the return
 * instant (or "never returned": outcome unknown) and the output. The checker decides whether
 * some total order of the operations (1) respects real time — an operation that returned before
 * another was called comes first — and (2) replays on the sequential model and gives every
 * output that the clients saw.
 *
 * The model is a map from key to string in which every key starts absent, with the operations
 * chorus serves over RESP:
 *   GET   output: the value, or null (output_null) when the key is absent
 *   PUT   sets the value; output "ok"
 *   DEL   removes the key; output the number of keys removed (0 or 1)
 *   CAS   if the value equals `expect` (absent never equals) set it to `value`: output "ok",
 *         else output "fail" and nothing changes
 *   INCR  absent counts as 0; the value must be a canonical 64-bit integer ("-12", not "012",
 *         not "+1", not "-0"); output the new value. An INCR on a non-integer value, or one
 *         that would overflow, is an error in Redis: the model cannot linearize it there.
 * and two collections that the chaos and real-process workloads use:
 *   PUSH  a list used as a queue: RPUSH of `value` to the tail; output the list's new length
 *   POP   LPOP (or BLPOP) of the head; output the element, or null when the list was empty.
 *         A queue history is linearizable iff some order consistent with real time has every
 *         pop return the head: an element acknowledged and then missing from a later empty
 *         pop is lost, one returned by two pops is delivered twice, both are refuted.
 *   SADD  a set: adds the member `value`; output 1 when it was absent, 0 when present
 *   SREM  removes the member `value`; output 1 when it was present, 0 when absent
 *   SISMEMBER  output 1 when `value` is a member, 0 when not
 * A key holds one type: the model does not mix a queue or a set with string operations on one
 * key. Set operations name one member each, so the set is checked member by member (a set is a
 * product of one present/absent register per member: P-compositionality again).
 * An operation whose outcome is unknown (returned == false) may take effect once at any instant
 * after its call, or never; its outputs are ignored.
 *
 * Two operations whose call and return instants are equal (a.return_ns == b.call_ns) count as
 * concurrent: the checker never orders operations on a tie, so a coarse clock cannot cause a
 * false alarm.
 *
 * Algorithm: the history is split by key (P-compositionality: a history is linearizable iff
 * each key's sub-history is; Horn & Kroening 2015). Reads with an unknown outcome are dropped.
 * A key without INCR is first scanned for a stale or unwritten read (refute.c, O(n log n)).
 * Then each key is searched with Wing & Gong's algorithm as refined by Lowe ("Testing for
 * linearizability", 2017) and Porcupine: a list of call/return events in time order, an
 * explicit stack (never recursion) and a cache of visited (set of linearized operations, model
 * state) pairs, with candidates tried goal first and earliest return first (search.c), one of
 * interchangeable operations only (symmetry.c) and counters decided in one pass (counter.c).
 *
 * Thread safety: a history is read-only during lincheck_check; separate histories may be
 * checked from separate threads.
 */
#ifndef CHORUS_LINCHECK_H
#define CHORUS_LINCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Bounds. */
enum {
    LINCHECK_KEY_BYTES_MAX = 4096,            /* one key, without its NUL */
    LINCHECK_VALUE_BYTES_MAX = 1u << 20,      /* one value (PUT, CAS, GET output) */
    LINCHECK_OPS_MAX = 1u << 24,              /* operations in one history */
    LINCHECK_RESULT_OPS_MAX = 64,             /* operations listed in a result */
    LINCHECK_ERROR_BYTES_MAX = 256,           /* history and result messages */
};

enum lincheck_kind { LINCHECK_GET, LINCHECK_PUT, LINCHECK_DEL, LINCHECK_CAS, LINCHECK_INCR,
                     LINCHECK_PUSH, LINCHECK_POP, LINCHECK_SADD, LINCHECK_SREM,
                     LINCHECK_SISMEMBER };
#define LINCHECK_KIND_LAST LINCHECK_SISMEMBER

struct lincheck_op {
    uint64_t client;
    enum lincheck_kind kind;
    const char *key;    /* NUL-terminated; copied by lincheck_history_add */
    const char *value;  /* PUT and CAS: the new value; PUSH: the element; SADD, SREM,
                           SISMEMBER: the member; else NULL */
    const char *expect; /* CAS: the expected value; else NULL */
    int64_t call_ns;
    bool returned;      /* false: outcome unknown (timeout/crash): may take effect once at any
                           instant after call, or never */
    int64_t return_ns;  /* valid when returned; > call_ns */
    /* outputs, valid when returned: */
    bool output_null;          /* GET: key absent; POP: the list was empty */
    const char *output_value;  /* GET: the value read, POP: the element (when !output_null) */
    bool output_ok;            /* PUT: always true; CAS: true = swapped, false = "fail" */
    int64_t output_int;        /* DEL: keys removed (0/1); INCR: new value; PUSH: new length;
                                  SADD, SREM, SISMEMBER: 0 or 1 */
    uint32_t line;             /* source line for reports (0 when built in memory) */
};

struct lincheck_history;

/* Returns an empty history, or NULL when out of memory. */
struct lincheck_history *lincheck_history_create(void);
void lincheck_history_destroy(struct lincheck_history *history);

/* Validates `op` and appends a copy of it (strings included). Returns 0, or -1 when the op is
 * inconsistent (return_ns <= call_ns, missing value, output that its kind cannot produce...),
 * too large, or memory ran out; lincheck_history_error then says why. Fields that the kind does
 * not use must be NULL / zero so that a caller's mistake does not pass silently. */
int lincheck_history_add(struct lincheck_history *history, const struct lincheck_op *op);

/* The reason for the last failed lincheck_history_add / parse ("" when none). */
const char *lincheck_history_error(const struct lincheck_history *history);

/* Number of operations added so far, and the i-th one (i < count) as added; the returned
 * pointers stay valid until the history is destroyed. */
uint32_t lincheck_history_count(const struct lincheck_history *history);
const struct lincheck_op *lincheck_history_op(const struct lincheck_history *history,
                                              uint32_t index);

/* Parses JSON lines (one flat object per line; blank lines are skipped), appending every
 * operation to `history`, e.g.
 *   {"client":1,"op":"put","key":"k1","value":"v3","call":100,"return":250,"output":"ok"}
 *   {"client":2,"op":"get","key":"k1","call":120,"return":null,"output":null}
 * Returns 0, or -1 with "line N: reason" in `error` (always NUL-terminated when error_len > 0).
 * On failure the operations of earlier lines stay in the history. */
int lincheck_history_parse_jsonl(struct lincheck_history *history, const char *text, size_t len,
                                 char *error, size_t error_len);

enum lincheck_verdict { LINCHECK_OK = 0, LINCHECK_VIOLATION = 1, LINCHECK_UNKNOWN = 2 };

struct lincheck_options {
    double timeout_s;          /* whole check, shrinking included; <= 0: no limit */
    uint64_t memory_bytes_max; /* search memory of one key; 0: no limit */
};

/* timeout 60 s, memory 1 GiB. */
struct lincheck_options lincheck_options_default(void);

struct lincheck_result {
    enum lincheck_verdict verdict;
    char key[LINCHECK_KEY_BYTES_MAX + 1]; /* VIOLATION: the failing key; UNKNOWN: the key whose
                                             search ran out of budget; else "" */
    /* VIOLATION: a small set of ops of that key that cannot be ordered even if every other op
     * is "relaxed" — took effect at one instant inside its interval (after its call, for an
     * unknown outcome), or never, its output ignored. The set alone is a proof: whatever the
     * others did, these ops contradict each other. */
    uint32_t op_count;  /* ops in the set */
    uint32_t op_index[LINCHECK_RESULT_OPS_MAX]; /* the first min(op_count, MAX) of them, as
                                                   indices into the history, in call order */
    uint32_t op_line[LINCHECK_RESULT_OPS_MAX];  /* and their source lines (0: built in memory) */
    bool minimal;       /* true: relaxing any one more listed op makes it linearizable; false:
                           the shrinking budget ran out first (the set still cannot be ordered) */
    char message[LINCHECK_ERROR_BYTES_MAX]; /* UNKNOWN: "timeout" or "memory budget exceeded" */
    uint32_t keys_checked;
    uint64_t states_explored;   /* distinct (linearized set, state) pairs visited, all keys */
    uint64_t memory_bytes_peak; /* largest search memory of one key */
    double seconds;             /* wall-clock time of the check */
};

/* Decides whether `history` is linearizable. `options` may be NULL (the defaults). */
enum lincheck_verdict lincheck_check(const struct lincheck_history *history,
                                     const struct lincheck_options *options,
                                     struct lincheck_result *result);

/* Writes the verdict and, for a violation, the offending operations one per line. */
void lincheck_result_print(const struct lincheck_history *history,
                           const struct lincheck_result *result, FILE *out);

/* Writes one operation as a JSON line (no newline), the format parse_jsonl reads. */
void lincheck_op_print_json(const struct lincheck_op *op, FILE *out);

/* A random history that is linearizable by construction, for property tests and benchmarks:
 * each client runs operations one after the other; each operation takes effect on a hidden
 * sequential model at a random instant inside its interval. In the MIXED workload keys whose
 * index is a multiple of 4 hold integers (GET, PUT, DEL, CAS, INCR) and the others hold strings
 * (no INCR); in the REGISTER workload every key holds strings; in the COUNTER workload every
 * key is a counter (INCR, and GET one time in ten).
 *
 * plant_stale_read makes the history certainly NOT linearizable, with one read that returns a
 * value overwritten before it was called (its verdict is known without trusting the checker):
 *   MIXED, REGISTER: a completed PUT on key 0 writes a value no other operation writes or expects; a
 *          later completed PUT on key 0 begins after it ends; a GET of key 0 that begins after
 *          that second PUT ends is made to read the first one's value.
 *   COUNTER: a GET of key 0 that begins after a completed INCR of key 0 returned n is made to
 *          read n - 1 (a counter never goes down; absent when n - 1 is 0).
 * The GET chosen is the first that fits in the second half of the history. */
enum lincheck_workload { LINCHECK_WORKLOAD_MIXED = 0, LINCHECK_WORKLOAD_COUNTER = 1,
                         LINCHECK_WORKLOAD_REGISTER = 2 };

struct lincheck_generate_options {
    enum lincheck_workload workload;
    bool plant_stale_read;
    uint64_t seed;
    uint32_t op_count;
    uint32_t client_count;   /* >= 1 */
    uint32_t key_count;      /* >= 1 */
    uint32_t value_count;    /* distinct values written per key, >= 1 */
    uint32_t unknown_permille; /* operations whose outcome is unknown (half of them do apply) */
    int64_t latency_ns_max;  /* an operation's interval lasts 1..latency_ns_max (>= 2) */
};
/* Appends the generated operations to `history` (in call order). Returns 0, or -1 when memory
 * ran out, or a stale read was asked for and no operations fit (then nothing is appended). */
int lincheck_generate(struct lincheck_history *history,
                      const struct lincheck_generate_options *options);

#endif
