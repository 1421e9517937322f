/*
 * test_lincheck.c — the linearizability checker: anomalies, tricky linearizable histories,
 * the JSON-lines parser, budgets, a brute-force oracle on small random histories, and
 * property tests on generated (linearizable by construction) and mutated histories.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lincheck/lincheck.h"

enum {
    ORACLE_OPS_MAX = 7,          /* brute force enumerates orders of at most this many ops */
    ORACLE_HISTORIES = 3000,
    PROPERTY_SEEDS = 150,
    TEXT_BYTES_MAX = 64,
};

static struct lincheck_history *history_parse(const char *text)
{
    struct lincheck_history *history = lincheck_history_create();
    assert_non_null(history);
    char error[LINCHECK_ERROR_BYTES_MAX];
    int rv = lincheck_history_parse_jsonl(history, text, strlen(text), error, sizeof(error));
    if (rv != 0) fail_msg("parse: %s", error);
    return history;
}

static enum lincheck_verdict verdict_of(const char *text, struct lincheck_result *result)
{
    struct lincheck_history *history = history_parse(text);
    enum lincheck_verdict verdict = lincheck_check(history, NULL, result);
    lincheck_history_destroy(history);
    return verdict;
}

#define PUT(c, k, v, t0, t1) \
    "{\"client\":" #c ",\"op\":\"put\",\"key\":\"" k "\",\"value\":\"" v "\",\"call\":" #t0 \
    ",\"return\":" #t1 ",\"output\":\"ok\"}\n"
#define PUT_UNKNOWN(c, k, v, t0) \
    "{\"client\":" #c ",\"op\":\"put\",\"key\":\"" k "\",\"value\":\"" v "\",\"call\":" #t0 \
    ",\"return\":null,\"output\":null}\n"
#define GET(c, k, out, t0, t1) \
    "{\"client\":" #c ",\"op\":\"get\",\"key\":\"" k "\",\"call\":" #t0 ",\"return\":" #t1 \
    ",\"output\":" out "}\n"
#define CAS(c, k, e, v, t0, t1, out) \
    "{\"client\":" #c ",\"op\":\"cas\",\"key\":\"" k "\",\"expect\":\"" e "\",\"value\":\"" v \
    "\",\"call\":" #t0 ",\"return\":" #t1 ",\"output\":\"" out "\"}\n"
#define INCR(c, k, t0, t1, out) \
    "{\"client\":" #c ",\"op\":\"incr\",\"key\":\"" k "\",\"call\":" #t0 ",\"return\":" #t1 \
    ",\"output\":" #out "}\n"
#define DEL(c, k, t0, t1, out) \
    "{\"client\":" #c ",\"op\":\"del\",\"key\":\"" k "\",\"call\":" #t0 ",\"return\":" #t1 \
    ",\"output\":" #out "}\n"

static void expect_violation(const char *text, const char *key, uint32_t ops,
                             const uint32_t *lines)
{
    struct lincheck_result result;
    assert_int_equal(verdict_of(text, &result), LINCHECK_VIOLATION);
    assert_string_equal(result.key, key);
    assert_true(result.minimal);
    assert_int_equal(result.op_count, ops);
    for (uint32_t i = 0; i < ops; i++) assert_int_equal(result.op_line[i], lines[i]);
}

static void test_stale_read(void **state)
{
    (void)state;
    expect_violation(PUT(1, "x", "a", 0, 10) PUT(1, "x", "b", 20, 30) GET(2, "x", "\"a\"", 40, 50)
                     PUT(3, "y", "q", 0, 100),
                     "x", 2, (const uint32_t[]){ 2, 3 });
}

static void test_read_never_written(void **state)
{
    (void)state;
    expect_violation(PUT(1, "x", "a", 0, 10) GET(2, "x", "\"b\"", 5, 50) PUT(1, "y", "b", 0, 10),
                     "x", 1, (const uint32_t[]){ 2 });
}

static void test_lost_write(void **state)
{
    (void)state;
    expect_violation(PUT(1, "x", "a", 0, 10) GET(2, "x", "\"a\"", 20, 30)
                     PUT(3, "x", "b", 40, 50) GET(2, "x", "\"a\"", 60, 70),
                     "x", 2, (const uint32_t[]){ 3, 4 });
}

static void test_write_order_inverted(void **state)
{
    (void)state;
    /* Two concurrent writes; two non-overlapping readers disagree on their order. */
    expect_violation(PUT(1, "x", "a", 0, 100) PUT(2, "x", "b", 0, 100)
                     GET(3, "x", "\"b\"", 10, 20) GET(3, "x", "\"a\"", 30, 40)
                     GET(4, "x", "\"b\"", 50, 60),
                     "x", 3, (const uint32_t[]){ 3, 4, 5 });
}

static void test_cas_could_not_succeed(void **state)
{
    (void)state;
    /* b was overwritten by a before the cas was called */
    expect_violation(PUT(1, "x", "b", 0, 10) PUT(1, "x", "a", 20, 30)
                     CAS(2, "x", "b", "c", 40, 50, "ok") GET(3, "x", "null", 0, 5),
                     "x", 2, (const uint32_t[]){ 2, 3 });
    /* b is written only after the cas returned: the cas alone is impossible */
    expect_violation(PUT(1, "x", "a", 0, 10) CAS(2, "x", "b", "c", 20, 30, "ok")
                     PUT(1, "x", "b", 40, 50),
                     "x", 1, (const uint32_t[]){ 2 });
    /* and a cas that failed although the value was there all along */
    expect_violation(PUT(1, "x", "a", 0, 10) CAS(2, "x", "a", "c", 20, 30, "fail"),
                     "x", 2, (const uint32_t[]){ 1, 2 });
}

static void test_incr_duplicate(void **state)
{
    (void)state;
    expect_violation(INCR(1, "n", 0, 100, 1) INCR(2, "n", 10, 90, 1), "n", 2,
                     (const uint32_t[]){ 1, 2 });
    /* incr on a value that is not a canonical integer is an error, never a result */
    expect_violation(PUT(1, "n", "007", 0, 10) INCR(2, "n", 20, 30, 1), "n", 2,
                     (const uint32_t[]){ 1, 2 });
}

static void test_del_count_wrong(void **state)
{
    (void)state;
    expect_violation(PUT(1, "x", "a", 0, 10) DEL(2, "x", 20, 30, 1) DEL(2, "x", 40, 50, 1), "x", 2,
                     (const uint32_t[]){ 2, 3 });
}

static void test_linearizable_tricky(void **state)
{
    (void)state;
    struct lincheck_result result;
    /* a read concurrent with a write sees either value */
    assert_int_equal(verdict_of(PUT(1, "x", "a", 0, 10) PUT(1, "x", "b", 20, 60)
                                GET(2, "x", "\"b\"", 30, 50), &result), LINCHECK_OK);
    assert_int_equal(verdict_of(PUT(1, "x", "a", 0, 10) PUT(1, "x", "b", 20, 60)
                                GET(2, "x", "\"a\"", 30, 50), &result), LINCHECK_OK);
    /* an unknown-outcome put must have happened to explain the later read */
    assert_int_equal(verdict_of(PUT(1, "x", "a", 0, 10) PUT_UNKNOWN(2, "x", "b", 20)
                                GET(3, "x", "\"b\"", 100, 110), &result), LINCHECK_OK);
    /* ... or must never have happened */
    assert_int_equal(verdict_of(PUT(1, "x", "a", 0, 10) PUT_UNKNOWN(2, "x", "b", 20)
                                GET(3, "x", "\"a\"", 100, 110) GET(3, "x", "\"a\"", 120, 130),
                                &result), LINCHECK_OK);
    /* ... or happened long after its caller gave up */
    assert_int_equal(verdict_of(PUT(1, "x", "a", 0, 10) PUT_UNKNOWN(2, "x", "b", 20)
                                GET(3, "x", "\"a\"", 100, 110) GET(3, "x", "\"b\"", 900, 910),
                                &result), LINCHECK_OK);
    /* equal timestamps: touching intervals count as concurrent */
    assert_int_equal(verdict_of(PUT(1, "x", "a", 0, 10) GET(2, "x", "null", 10, 20), &result),
                     LINCHECK_OK);
    /* incr from absent, counters and canonical integers written by put */
    assert_int_equal(verdict_of(INCR(1, "n", 0, 10, 1) PUT(1, "n", "41", 20, 30)
                                INCR(2, "n", 40, 50, 42) GET(1, "n", "\"42\"", 60, 70)
                                CAS(2, "n", "42", "-5", 80, 90, "ok") INCR(2, "n", 95, 99, -4),
                                &result), LINCHECK_OK);
    assert_int_equal(result.keys_checked, 1);
    /* the empty history */
    assert_int_equal(verdict_of("", &result), LINCHECK_OK);
}

/* An unknown write must not be counted twice, nor be allowed before its call. */
static void test_unknown_write_limits(void **state)
{
    (void)state;
    struct lincheck_result result;
    assert_int_equal(verdict_of(GET(1, "x", "\"b\"", 0, 10) PUT_UNKNOWN(2, "x", "b", 20), &result),
                     LINCHECK_VIOLATION);
    assert_int_equal(verdict_of(PUT(1, "x", "a", 0, 10) PUT_UNKNOWN(2, "x", "b", 20)
                                GET(3, "x", "\"b\"", 30, 40) GET(3, "x", "\"a\"", 50, 60)
                                GET(3, "x", "\"b\"", 70, 80), &result), LINCHECK_VIOLATION);
}

struct parse_case {
    const char *text;
    const char *error; /* expected substring; NULL: must parse */
};

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct parse_case cases[] = {
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":null}",
          NULL },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":null",
          "line 2: line ends" },
        { "{\"client\":1,\"op\":\"append\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":null}",
          "line 2: unknown op" },
        { "{\"client\":1,\"op\":\"get\",\"call\":0,\"return\":1,\"output\":null}",
          "line 2: missing field \"key\"" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\",\"call\":5,\"return\":5,\"output\":null}",
          "line 2: return must be after call" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\",\"call\":0,\"return\":1}",
          "missing field \"output\"" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":null,"
          "\"color\":1}", "unknown field" },
        { "{\"client\":1,\"client\":2,\"op\":\"get\"}", "given twice" },
        { "{\"client\":1.5,\"op\":\"get\"}", "integers" },
        { "{\"client\":true}", "values must be" },
        { "{\"client\":[1]}", "values must be" },
        { "{\"client\":1,\"op\":\"put\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":\"ok\"}",
          "missing field \"value\"" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\",\"value\":\"v\",\"call\":0,\"return\":1,"
          "\"output\":null}", "get takes no \"value\"" },
        { "{\"client\":1,\"op\":\"put\",\"key\":\"x\",\"value\":\"v\",\"call\":0,\"return\":1,"
          "\"output\":\"fail\"}", "put output must be" },
        { "{\"client\":1,\"op\":\"del\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":2}",
          "del output must be 0 or 1" },
        { "{\"client\":1,\"op\":\"cas\",\"key\":\"x\",\"expect\":\"a\",\"value\":\"b\",\"call\":0,"
          "\"return\":1,\"output\":\"maybe\"}", "cas output" },
        { "{\"client\":1,\"op\":\"incr\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":\"7\"}",
          "incr output must be an integer" },
        { "{\"client\":1,\"op\":\"incr\",\"key\":\"x\",\"call\":0,\"return\":null,\"output\":7}",
          "output must be null when return is null" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":null} x",
          "text after the object" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\\q\",\"call\":0,\"return\":1,\"output\":null}",
          "bad escape" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x\\u0000\",\"call\":0,\"return\":1,"
          "\"output\":null}", "\\u0000" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"\\ud800x\",\"call\":0,\"return\":1,"
          "\"output\":null}", "surrogate" },
        { "{\"client\":99999999999999999999}", "out of range" },
        { "{\"client\":-1,\"op\":\"get\",\"key\":\"x\",\"call\":0,\"return\":1,\"output\":null}",
          "client must not be negative" },
        { "{\"client\":1,\"op\":\"get\",\"key\":\"x", "unterminated string" },
        { "[1]", "expected '{'" },
        { "{}", "missing field \"client\"" },
    };
    const char *first = "{\"client\":1,\"op\":\"put\",\"key\":\"x\",\"value\":\"a\",\"call\":0,"
                        "\"return\":10,\"output\":\"ok\"}\n\n";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text), "%s%s\n", first, cases[i].text);
        for (char *blank = strstr(text, "\n\n"); blank; blank = NULL) blank[1] = ' ';
        struct lincheck_history *history = lincheck_history_create();
        char error[LINCHECK_ERROR_BYTES_MAX];
        int rv = lincheck_history_parse_jsonl(history, text, strlen(text), error, sizeof(error));
        if (cases[i].error == NULL) {
            assert_int_equal(rv, 0);
            assert_int_equal(lincheck_history_count(history), 2);
        } else {
            assert_int_equal(rv, -1);
            if (strstr(error, cases[i].error) == NULL)
                fail_msg("case %zu: \"%s\" lacks \"%s\"", i, error, cases[i].error);
            assert_int_equal(lincheck_history_count(history), 1);
        }
        lincheck_history_destroy(history);
    }
}

static void test_parse_strings(void **state)
{
    (void)state;
    const char *text =
        "  {\"client\" : 7, \"op\":\"put\", \"key\":\"k\\\"\\\\\\/\\b\\f\\n\\r\\t\","
        "\"value\":\"\\u00e9\\u20ac\\ud83d\\ude00A\",\"call\":-5,\"return\":9,\"output\":\"ok\"}\r\n"
        "{\"client\":8,\"op\":\"get\",\"key\":\"k\\\"\\\\/\\b\\f\\n\\r\\t\",\"call\":10,"
        "\"return\":11,\"output\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x41\"}";
    struct lincheck_history *history = history_parse(text);
    assert_int_equal(lincheck_history_count(history), 2);
    const struct lincheck_op *put = lincheck_history_op(history, 0);
    assert_string_equal(put->key, "k\"\\/\b\f\n\r\t");
    assert_string_equal(put->value, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "A");
    assert_int_equal(put->client, 7);
    assert_int_equal(put->call_ns, -5);
    assert_int_equal(put->line, 1);
    assert_int_equal(lincheck_history_op(history, 1)->line, 2);
    struct lincheck_result result;
    assert_int_equal(lincheck_check(history, NULL, &result), LINCHECK_OK);
    lincheck_history_destroy(history);
}

static void test_history_add_rejects(void **state)
{
    (void)state;
    struct lincheck_history *history = lincheck_history_create();
    struct lincheck_op good = { .client = 1, .kind = LINCHECK_PUT, .key = "k", .value = "v",
                                .call_ns = 1, .returned = true, .return_ns = 2,
                                .output_ok = true };
    assert_int_equal(lincheck_history_add(history, &good), 0);
    struct lincheck_op bad = good;
    bad.return_ns = 1;
    assert_int_equal(lincheck_history_add(history, &bad), -1);
    assert_non_null(strstr(lincheck_history_error(history), "return"));
    bad = good;
    bad.value = NULL;
    assert_int_equal(lincheck_history_add(history, &bad), -1);
    bad = good;
    bad.kind = LINCHECK_GET;
    assert_int_equal(lincheck_history_add(history, &bad), -1); /* get with a value */
    bad = good;
    bad.kind = LINCHECK_DEL;
    bad.value = NULL;
    bad.output_int = 2;
    assert_int_equal(lincheck_history_add(history, &bad), -1);
    bad = good;
    bad.key = NULL;
    assert_int_equal(lincheck_history_add(history, &bad), -1);
    bad = good;
    bad.kind = (enum lincheck_kind)(LINCHECK_KIND_LAST + 1);
    assert_int_equal(lincheck_history_add(history, &bad), -1);
    char *long_key = malloc(LINCHECK_KEY_BYTES_MAX + 2);
    memset(long_key, 'k', LINCHECK_KEY_BYTES_MAX + 1);
    long_key[LINCHECK_KEY_BYTES_MAX + 1] = '\0';
    bad = good;
    bad.key = long_key;
    assert_int_equal(lincheck_history_add(history, &bad), -1);
    free(long_key);
    assert_int_equal(lincheck_history_count(history), 1);
    /* a copy was made: the caller's buffer may change */
    char key[8] = "abc";
    good.key = key;
    assert_int_equal(lincheck_history_add(history, &good), 0);
    key[0] = 'z';
    assert_string_equal(lincheck_history_op(history, 1)->key, "abc");
    lincheck_history_destroy(history);
}

static struct lincheck_history *generated(uint64_t seed, uint32_t ops, uint32_t clients,
                                          uint32_t keys, uint32_t unknown_permille)
{
    struct lincheck_history *history = lincheck_history_create();
    assert_non_null(history);
    struct lincheck_generate_options options = {
        .seed = seed, .op_count = ops, .client_count = clients, .key_count = keys,
        .value_count = 3, .unknown_permille = unknown_permille, .latency_ns_max = 100,
    };
    assert_int_equal(lincheck_generate(history, &options), 0);
    return history;
}

static void test_budgets(void **state)
{
    (void)state;
    struct lincheck_history *history = generated(7, 20000, 20, 1, 0);
    struct lincheck_result result;
    struct lincheck_options options = { .timeout_s = 1e-9, .memory_bytes_max = 0 };
    assert_int_equal(lincheck_check(history, &options, &result), LINCHECK_UNKNOWN);
    assert_string_equal(result.message, "timeout");
    assert_string_equal(result.key, "k0");
    options = (struct lincheck_options){ .timeout_s = 0, .memory_bytes_max = 100000 };
    assert_int_equal(lincheck_check(history, &options, &result), LINCHECK_UNKNOWN);
    assert_string_equal(result.message, "memory budget exceeded");
    options = lincheck_options_default();
    assert_int_equal(lincheck_check(history, &options, &result), LINCHECK_OK);
    assert_true(result.memory_bytes_peak > 100000);
    assert_true(result.memory_bytes_peak < options.memory_bytes_max);
    lincheck_history_destroy(history);
}

/* --- the brute-force oracle: tries every order of every admissible subset ------------------ */

struct oracle_op {
    int kind;
    bool relaxed; /* may happen inside its interval, or never */
    char value[TEXT_BYTES_MAX], expect[TEXT_BYTES_MAX], output[TEXT_BYTES_MAX];
    bool output_null, output_ok, returned;
    int64_t output_int, call, ret;
};

static bool oracle_integer(const char *text, long long *integer)
{
    char *end;
    *integer = strtoll(text, &end, 10);
    char back[TEXT_BYTES_MAX];
    snprintf(back, sizeof(back), "%lld", *integer);
    return *end == '\0' && strcmp(back, text) == 0;
}

/* Applies op to (present, value); false when it cannot give its output there. */
static bool oracle_apply(const struct oracle_op *op, bool *present, char *value)
{
    switch (op->kind) {
    case LINCHECK_GET:
        return op->output_null ? !*present : (*present && strcmp(value, op->output) == 0);
    case LINCHECK_PUT:
        *present = true;
        snprintf(value, TEXT_BYTES_MAX, "%s", op->value);
        return true;
    case LINCHECK_DEL: {
        bool was = *present;
        *present = false;
        return !op->returned || was == (op->output_int == 1);
    }
    case LINCHECK_CAS: {
        bool swaps = *present && strcmp(value, op->expect) == 0;
        if (swaps) snprintf(value, TEXT_BYTES_MAX, "%s", op->value);
        return !op->returned || swaps == op->output_ok;
    }
    case LINCHECK_INCR: {
        long long current = 0;
        if (*present && !oracle_integer(value, &current)) return false;
        *present = true;
        snprintf(value, TEXT_BYTES_MAX, "%lld", current + 1);
        return !op->returned || op->output_int == current + 1;
    }
    }
    return false;
}

/* Depth-first over orders; depth <= ORACLE_OPS_MAX. A relaxed op may also be skipped. */
static bool oracle_search(const struct oracle_op *ops, int count, uint32_t used, bool present,
                          const char *value)
{
    bool all_required_used = true;
    for (int i = 0; i < count; i++)
        if (ops[i].returned && !ops[i].relaxed && !(used & (1u << i))) all_required_used = false;
    if (all_required_used) return true;
    for (int i = 0; i < count; i++) {
        if (used & (1u << i)) continue;
        if (ops[i].relaxed && ops[i].returned &&
            oracle_search(ops, count, used | (1u << i), present, value))
            return true; /* i never happens */
        bool admissible = true;
        for (int j = 0; j < count; j++)
            if (!(used & (1u << j)) && j != i && ops[j].returned && ops[j].ret < ops[i].call)
                admissible = false;
        if (!admissible) continue;
        bool next_present = present;
        char next_value[TEXT_BYTES_MAX];
        snprintf(next_value, sizeof(next_value), "%s", value);
        if (!ops[i].returned && ops[i].kind == LINCHECK_GET) continue;
        struct oracle_op op = ops[i];
        if (op.relaxed) op.returned = false; /* its output is ignored */
        if (!oracle_apply(&op, &next_present, next_value)) continue;
        if (oracle_search(ops, count, used | (1u << i), next_present, next_value)) return true;
    }
    return false;
}

/* The reported set S is a certificate (the others relaxed, S cannot be linearized) and, when
 * said to be minimal, relaxing any one more op of S makes it linearizable. */
static void oracle_check_certificate(struct oracle_op *ops, int count,
                                     const struct lincheck_result *result)
{
    for (int i = 0; i < count; i++) ops[i].relaxed = true;
    for (uint32_t k = 0; k < result->op_count; k++) ops[result->op_index[k]].relaxed = false;
    assert_false(oracle_search(ops, count, 0, false, ""));
    if (!result->minimal) return;
    for (uint32_t k = 0; k < result->op_count; k++) {
        ops[result->op_index[k]].relaxed = true;
        assert_true(oracle_search(ops, count, 0, false, ""));
        ops[result->op_index[k]].relaxed = false;
    }
}

static uint64_t oracle_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

/* Random histories of three shapes: any operation on a few values; a counter (INCR and GET
 * only, many unknown outcomes: counter.c's rules); few values, so that many operations are
 * interchangeable twins (symmetry.c's rule). */
enum oracle_profile { ORACLE_ANY, ORACLE_COUNTER, ORACLE_TWINS, ORACLE_PROFILES };

static int oracle_kind(uint64_t *rng, enum oracle_profile profile)
{
    if (profile == ORACLE_COUNTER)
        return oracle_random(rng) % 5 < 3 ? LINCHECK_INCR : LINCHECK_GET;
    if (profile == ORACLE_TWINS) return (int)(oracle_random(rng) % 4); /* no INCR */
    return (int)(oracle_random(rng) % 5);
}

static void oracle_make(uint64_t *rng, enum oracle_profile profile, struct oracle_op *op,
                        struct lincheck_op *out)
{
    static const char *const values[] = { "a", "b", "1", "2", "3" };
    uint64_t value_count = profile == ORACLE_ANY ? 4 : 2;
    const char *const *pool = profile == ORACLE_COUNTER ? values + 2 : values;
    memset(op, 0, sizeof(*op));
    op->kind = oracle_kind(rng, profile);
    snprintf(op->value, TEXT_BYTES_MAX, "%s", pool[oracle_random(rng) % value_count]);
    snprintf(op->expect, TEXT_BYTES_MAX, "%s", pool[oracle_random(rng) % value_count]);
    snprintf(op->output, TEXT_BYTES_MAX, "%s", pool[oracle_random(rng) % value_count]);
    op->call = (int64_t)(oracle_random(rng) % (profile == ORACLE_ANY ? 20 : 12));
    op->ret = op->call + 1 + (int64_t)(oracle_random(rng) % 10);
    op->returned = oracle_random(rng) % (profile == ORACLE_COUNTER ? 3 : 8) != 0;
    op->output_null = op->kind == LINCHECK_GET && oracle_random(rng) % 3 == 0;
    op->output_ok = op->kind == LINCHECK_PUT || oracle_random(rng) % 2 == 0;
    op->output_int = op->kind == LINCHECK_DEL ? (int64_t)(oracle_random(rng) % 2)
                                              : (int64_t)(oracle_random(rng) % 4);
    if (profile == ORACLE_COUNTER && op->kind == LINCHECK_INCR)
        op->output_int = 1 + (int64_t)(oracle_random(rng) % 3);
    *out = (struct lincheck_op){
        .client = 1 + oracle_random(rng) % 3, .kind = (enum lincheck_kind)op->kind, .key = "x",
        .value = (op->kind == LINCHECK_PUT || op->kind == LINCHECK_CAS) ? op->value : NULL,
        .expect = op->kind == LINCHECK_CAS ? op->expect : NULL, .call_ns = op->call,
        .returned = op->returned, .return_ns = op->ret,
    };
    if (!op->returned) return;
    out->output_null = op->output_null;
    out->output_value = op->kind == LINCHECK_GET && !op->output_null ? op->output : NULL;
    out->output_ok = op->output_ok;
    out->output_int = op->output_int;
}

static void oracle_agrees(enum oracle_profile profile)
{
    uint64_t rng = 42 + (uint64_t)profile;
    int violations = 0, linearizable = 0;
    for (int h = 0; h < ORACLE_HISTORIES; h++) {
        int count = 1 + (int)(oracle_random(&rng) % ORACLE_OPS_MAX);
        struct oracle_op ops[ORACLE_OPS_MAX];
        struct lincheck_history *history = lincheck_history_create();
        for (int i = 0; i < count; i++) {
            struct lincheck_op op;
            oracle_make(&rng, profile, &ops[i], &op);
            assert_int_equal(lincheck_history_add(history, &op), 0);
        }
        bool expected = oracle_search(ops, count, 0, false, "");
        struct lincheck_result result;
        enum lincheck_verdict verdict = lincheck_check(history, NULL, &result);
        if (verdict != (expected ? LINCHECK_OK : LINCHECK_VIOLATION)) {
            lincheck_result_print(history, &result, stderr);
            for (uint32_t i = 0; i < lincheck_history_count(history); i++) {
                lincheck_op_print_json(lincheck_history_op(history, i), stderr);
                fputc('\n', stderr);
            }
            fail_msg("profile %d history %d: oracle says %s", (int)profile, h,
                     expected ? "linearizable" : "not");
        }
        if (expected) {
            linearizable++;
        } else {
            violations++;
            assert_true(result.minimal);
            oracle_check_certificate(ops, count, &result);
        }
        lincheck_history_destroy(history);
    }
    /* both verdicts were exercised */
    assert_true(violations > ORACLE_HISTORIES / 10);
    assert_true(linearizable > ORACLE_HISTORIES / 10);
}

static void test_oracle_agrees(void **state)
{
    (void)state;
    oracle_agrees(ORACLE_ANY);
}

static void test_oracle_agrees_counter(void **state)
{
    (void)state;
    oracle_agrees(ORACLE_COUNTER);
}

static void test_oracle_agrees_twins(void **state)
{
    (void)state;
    oracle_agrees(ORACLE_TWINS);
}

/* --- property tests on generated histories ----------------------------------------------- */

static void test_generated_pass(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= PROPERTY_SEEDS; seed++) {
        uint32_t clients = 1 + (uint32_t)(seed % 8);
        uint32_t keys = 1 + (uint32_t)(seed % 5);
        struct lincheck_history *history =
            generated(seed, 50 + (uint32_t)(seed * 7 % 400), clients, keys,
                      (uint32_t)(seed % 3) * 50);
        struct lincheck_result result;
        if (lincheck_check(history, NULL, &result) != LINCHECK_OK) {
            lincheck_result_print(history, &result, stderr);
            fail_msg("seed %llu: generated history rejected", (unsigned long long)seed);
        }
        lincheck_history_destroy(history);
    }
}

/* The shapes of issue 13, smaller: one key, 50 clients. Generated linearizable histories must
 * be decided so, and the same with a planted stale read NOT linearizable, the certificate being
 * the stale read and the write that certainly overwrote it (their timings are the bench's
 * business: bench/lincheck_bench.c targets). */
static void expect_generated(enum lincheck_workload workload, uint32_t ops, uint32_t clients,
                             uint32_t unknown_permille, bool plant, uint32_t value_count)
{
    struct lincheck_history *history = lincheck_history_create();
    struct lincheck_generate_options options = {
        .workload = workload, .plant_stale_read = plant, .seed = 13, .op_count = ops,
        .client_count = clients, .key_count = 1, .value_count = value_count,
        .unknown_permille = unknown_permille, .latency_ns_max = 1000000,
    };
    assert_int_equal(lincheck_generate(history, &options), 0);
    struct lincheck_result result;
    enum lincheck_verdict verdict = lincheck_check(history, NULL, &result);
    if (verdict != (plant ? LINCHECK_VIOLATION : LINCHECK_OK)) {
        lincheck_result_print(history, &result, stderr);
        fail_msg("workload %d, %u ops, plant %d: verdict %d", (int)workload, ops, plant,
                 (int)verdict);
    }
    if (plant) {
        assert_true(result.minimal);
        assert_int_equal(result.op_count, 2);
        /* in call order: the overwriting write, then the stale read */
        const struct lincheck_op *read = lincheck_history_op(history, result.op_index[1]);
        assert_int_equal(read->kind, LINCHECK_GET);
        assert_true(read->returned);
        const struct lincheck_op *write = lincheck_history_op(history, result.op_index[0]);
        assert_true(write->returned && write->return_ns < read->call_ns);
    }
    lincheck_history_destroy(history);
}

static void test_generated_one_key_register(void **state)
{
    (void)state;
    expect_generated(LINCHECK_WORKLOAD_REGISTER, 3000, 50, 0, false, 5);
    expect_generated(LINCHECK_WORKLOAD_REGISTER, 3000, 50, 0, true, 5);
    expect_generated(LINCHECK_WORKLOAD_REGISTER, 2000, 50, 10, false, 5);
    expect_generated(LINCHECK_WORKLOAD_REGISTER, 2000, 50, 10, true, 5);
    expect_generated(LINCHECK_WORKLOAD_REGISTER, 1000, 50, 10, false, 100);
}

static void test_generated_one_key_counter(void **state)
{
    (void)state;
    expect_generated(LINCHECK_WORKLOAD_COUNTER, 4000, 50, 10, false, 5);
    expect_generated(LINCHECK_WORKLOAD_COUNTER, 4000, 50, 10, true, 5);
    expect_generated(LINCHECK_WORKLOAD_COUNTER, 4000, 50, 100, false, 5);
    expect_generated(LINCHECK_WORKLOAD_COUNTER, 4000, 50, 100, true, 5);
}

/* A planted stale read on a key with INCR is not refuted without searching (refute.c leaves
 * such keys to the search): the search and shrinking find it. */
static void test_generated_mixed_planted(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct lincheck_history *history = lincheck_history_create();
        struct lincheck_generate_options options = {
            .workload = LINCHECK_WORKLOAD_MIXED, .plant_stale_read = true, .seed = seed,
            .op_count = 200, .client_count = 1 + (uint32_t)(seed % 5), .key_count = 1,
            .value_count = 5, .latency_ns_max = 1000,
        };
        assert_int_equal(lincheck_generate(history, &options), 0);
        struct lincheck_result result;
        assert_int_equal(lincheck_check(history, NULL, &result), LINCHECK_VIOLATION);
        assert_true(result.op_count >= 2);
        lincheck_history_destroy(history);
    }
}

enum mutation { MUTATE_READ_UNWRITTEN, MUTATE_CAS_UNWRITTEN, MUTATE_INCR_IMPOSSIBLE,
                MUTATE_STALE_READ, MUTATION_COUNT };

/* Copies `history` into a new one with one change that makes a violation certain. Returns
 * NULL when the history has no operation the mutation applies to. */
static struct lincheck_history *mutate(const struct lincheck_history *history, enum mutation kind,
                                       uint64_t seed)
{
    uint32_t count = lincheck_history_count(history), candidates = 0;
    int64_t end_ns = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct lincheck_op *op = lincheck_history_op(history, i);
        if (op->returned && op->return_ns > end_ns) end_ns = op->return_ns;
        if (op->call_ns > end_ns) end_ns = op->call_ns;
        bool fits = op->returned &&
                    ((kind == MUTATE_READ_UNWRITTEN && op->kind == LINCHECK_GET) ||
                     (kind == MUTATE_CAS_UNWRITTEN && op->kind == LINCHECK_CAS && op->output_ok) ||
                     (kind == MUTATE_INCR_IMPOSSIBLE && op->kind == LINCHECK_INCR));
        candidates += fits;
    }
    if (kind != MUTATE_STALE_READ && candidates == 0) return NULL;
    uint32_t target = candidates ? (uint32_t)(seed % candidates) : 0, seen = 0;
    struct lincheck_history *copy = lincheck_history_create();
    for (uint32_t i = 0; i < count; i++) {
        struct lincheck_op op = *lincheck_history_op(history, i);
        bool fits = op.returned &&
                    ((kind == MUTATE_READ_UNWRITTEN && op.kind == LINCHECK_GET) ||
                     (kind == MUTATE_CAS_UNWRITTEN && op.kind == LINCHECK_CAS && op.output_ok) ||
                     (kind == MUTATE_INCR_IMPOSSIBLE && op.kind == LINCHECK_INCR));
        if (fits && seen++ == target) {
            if (kind == MUTATE_READ_UNWRITTEN) {
                op.output_null = false;
                op.output_value = "never-written";
            } else if (kind == MUTATE_CAS_UNWRITTEN) {
                op.expect = "never-written";
            } else {
                op.output_int = 1000000000000;
            }
        }
        assert_int_equal(lincheck_history_add(copy, &op), 0);
    }
    if (kind == MUTATE_STALE_READ) {
        /* After everything: a completed write, then a read that misses it. */
        struct lincheck_op put = { .client = 999, .kind = LINCHECK_PUT, .key = "k0",
                                   .value = "fresh", .call_ns = end_ns + 10, .returned = true,
                                   .return_ns = end_ns + 20, .output_ok = true };
        struct lincheck_op get = { .client = 998, .kind = LINCHECK_GET, .key = "k0",
                                   .call_ns = end_ns + 30, .returned = true,
                                   .return_ns = end_ns + 40, .output_null = true };
        assert_int_equal(lincheck_history_add(copy, &put), 0);
        assert_int_equal(lincheck_history_add(copy, &get), 0);
    }
    return copy;
}

static void test_mutated_fail(void **state)
{
    (void)state;
    int mutated = 0;
    for (uint64_t seed = 1; seed <= PROPERTY_SEEDS; seed++) {
        /* stale reads are certain only when no unknown write can land after the fresh put */
        struct lincheck_history *history =
            generated(seed, 30 + (uint32_t)(seed * 13 % 300), 1 + (uint32_t)(seed % 6),
                      1 + (uint32_t)(seed % 4), seed % 4 == 0 ? 0 : 40);
        for (int kind = 0; kind < MUTATION_COUNT; kind++) {
            if (kind == MUTATE_STALE_READ && seed % 4 != 0) continue;
            struct lincheck_history *copy = mutate(history, (enum mutation)kind, seed);
            if (copy == NULL) continue;
            struct lincheck_result result;
            if (lincheck_check(copy, NULL, &result) != LINCHECK_VIOLATION)
                fail_msg("seed %llu mutation %d: not detected", (unsigned long long)seed, kind);
            /* the reported set alone is a violation too */
            assert_true(result.minimal);
            struct lincheck_history *alone = lincheck_history_create();
            if (result.op_count <= LINCHECK_RESULT_OPS_MAX)
            for (uint32_t i = 0; i < result.op_count; i++)
                assert_int_equal(lincheck_history_add(alone,
                                 lincheck_history_op(copy, result.op_index[i])), 0);
            if (result.op_count <= LINCHECK_RESULT_OPS_MAX)
                assert_int_equal(lincheck_check(alone, NULL, &result), LINCHECK_VIOLATION);
            lincheck_history_destroy(alone);
            lincheck_history_destroy(copy);
            mutated++;
        }
        lincheck_history_destroy(history);
    }
    assert_true(mutated > PROPERTY_SEEDS);
}

/* Damaged input (flipped bytes, cuts, inserted quotes and escapes) is rejected or accepted,
 * never crashes or reads out of bounds (run under ASan), and a rejection names a line. */
static void test_parse_damaged(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"client\":1,\"op\":\"cas\",\"key\":\"k\\u00e9\",\"expect\":\"a\",\"value\":\"b\","
        "\"call\":0,\"return\":9,\"output\":\"ok\"}\n",
        "{\"client\":2,\"op\":\"get\",\"key\":\"k\\ud83d\\ude00\",\"call\":3,\"return\":null,"
        "\"output\":null}\n",
        "{\"client\":3,\"op\":\"incr\",\"key\":\"n\",\"call\":-4,\"return\":12,\"output\":-7}\n",
    };
    static const char noise[] = "{}[]\":,\\u0123456789-nulx \n\t\x01\xff";
    uint64_t rng = 7;
    for (int round = 0; round < 20000; round++) {
        char text[512];
        size_t length = 0;
        for (int i = 0; i < 3; i++) {
            size_t n = strlen(lines[(round + i) % 3]);
            memcpy(text + length, lines[(round + i) % 3], n);
            length += n;
        }
        int edits = 1 + (int)(oracle_random(&rng) % 4);
        for (int e = 0; e < edits && length > 0; e++) {
            size_t at = oracle_random(&rng) % length;
            uint64_t how = oracle_random(&rng) % 3;
            if (how == 0) text[at] = noise[oracle_random(&rng) % (sizeof(noise) - 1)];
            else if (how == 1) length = at; /* cut */
            else text[at] = (char)oracle_random(&rng);
        }
        struct lincheck_history *history = lincheck_history_create();
        char error[LINCHECK_ERROR_BYTES_MAX];
        /* exact length, no NUL after: the parser must not read past it */
        char *copy = malloc(length ? length : 1);
        memcpy(copy, text, length);
        if (lincheck_history_parse_jsonl(history, copy, length, error, sizeof(error)) != 0)
            assert_true(strncmp(error, "line ", 5) == 0);
        struct lincheck_result result;
        lincheck_check(history, NULL, &result);
        free(copy);
        lincheck_history_destroy(history);
    }
}

/* Printing an operation and parsing it back gives the same operation. */
static void test_print_roundtrip(void **state)
{
    (void)state;
    struct lincheck_history *history = generated(3, 200, 4, 3, 100);
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    for (uint32_t i = 0; i < lincheck_history_count(history); i++) {
        lincheck_op_print_json(lincheck_history_op(history, i), out);
        fputc('\n', out);
    }
    fclose(out);
    struct lincheck_history *back = history_parse(text);
    assert_int_equal(lincheck_history_count(back), lincheck_history_count(history));
    for (uint32_t i = 0; i < lincheck_history_count(history); i++) {
        const struct lincheck_op *a = lincheck_history_op(history, i);
        const struct lincheck_op *b = lincheck_history_op(back, i);
        assert_int_equal(a->kind, b->kind);
        assert_string_equal(a->key, b->key);
        assert_int_equal(a->returned, b->returned);
        assert_int_equal(a->call_ns, b->call_ns);
        if (a->returned && a->kind == LINCHECK_GET && !a->output_null)
            assert_string_equal(a->output_value, b->output_value);
    }
    free(text);
    lincheck_history_destroy(back);
    lincheck_history_destroy(history);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stale_read),
        cmocka_unit_test(test_read_never_written),
        cmocka_unit_test(test_lost_write),
        cmocka_unit_test(test_write_order_inverted),
        cmocka_unit_test(test_cas_could_not_succeed),
        cmocka_unit_test(test_incr_duplicate),
        cmocka_unit_test(test_del_count_wrong),
        cmocka_unit_test(test_linearizable_tricky),
        cmocka_unit_test(test_unknown_write_limits),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_strings),
        cmocka_unit_test(test_history_add_rejects),
        cmocka_unit_test(test_budgets),
        cmocka_unit_test(test_oracle_agrees),
        cmocka_unit_test(test_oracle_agrees_counter),
        cmocka_unit_test(test_oracle_agrees_twins),
        cmocka_unit_test(test_generated_pass),
        cmocka_unit_test(test_mutated_fail),
        cmocka_unit_test(test_generated_one_key_register),
        cmocka_unit_test(test_generated_one_key_counter),
        cmocka_unit_test(test_generated_mixed_planted),
        cmocka_unit_test(test_print_roundtrip),
        cmocka_unit_test(test_parse_damaged),
    };
    return cmocka_run_group_tests_name("lincheck", tests, NULL, NULL);
}
