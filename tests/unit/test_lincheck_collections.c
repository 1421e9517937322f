/*
 * test_lincheck_collections.c — the checker's queue (RPUSH/LPOP on a list) and set (SADD, SREM,
 * SISMEMBER) models: valid histories accepted; a lost element, a duplicate delivery, an
 * inverted order and a stale membership read refuted; and a brute-force oracle on small random
 * histories of each, which the checker must agree with on every one.
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
    ORACLE_QUEUE_MAX = ORACLE_OPS_MAX,
};

#define PUSH(c, k, v, t0, t1, len) \
    "{\"client\":" #c ",\"op\":\"push\",\"key\":\"" k "\",\"value\":\"" v "\",\"call\":" #t0 \
    ",\"return\":" #t1 ",\"output\":" #len "}\n"
#define PUSH_UNKNOWN(c, k, v, t0) \
    "{\"client\":" #c ",\"op\":\"push\",\"key\":\"" k "\",\"value\":\"" v "\",\"call\":" #t0 \
    ",\"return\":null,\"output\":null}\n"
#define POP(c, k, out, t0, t1) \
    "{\"client\":" #c ",\"op\":\"pop\",\"key\":\"" k "\",\"call\":" #t0 ",\"return\":" #t1 \
    ",\"output\":" out "}\n"
#define SETOP(c, op, k, m, t0, t1, out) \
    "{\"client\":" #c ",\"op\":\"" op "\",\"key\":\"" k "\",\"value\":\"" m "\",\"call\":" #t0 \
    ",\"return\":" #t1 ",\"output\":" #out "}\n"

/* Checks the history and prints the verdict (a failing test then shows what was found). */
static enum lincheck_verdict verdict_of(const char *text, struct lincheck_result *result)
{
    struct lincheck_history *history = lincheck_history_create();
    assert_non_null(history);
    char error[LINCHECK_ERROR_BYTES_MAX];
    if (lincheck_history_parse_jsonl(history, text, strlen(text), error, sizeof(error)) != 0)
        fail_msg("parse: %s", error);
    enum lincheck_verdict verdict = lincheck_check(history, NULL, result);
    lincheck_result_print(history, result, stdout);
    lincheck_history_destroy(history);
    return verdict;
}

static void expect_ok(const char *text)
{
    struct lincheck_result result;
    assert_int_equal(verdict_of(text, &result), LINCHECK_OK);
}

/* A violation on `key` whose minimal certificate is exactly the listed lines. */
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

static void test_queue_valid(void **state)
{
    (void)state;
    /* concurrent pushes may take either order; a pop overlapping them sees either head; a
     * blocking pop called before the push returns the element pushed during its wait */
    expect_ok(PUSH(1, "q", "a", 0, 10, 2) PUSH(2, "q", "b", 0, 10, 1) POP(3, "q", "\"b\"", 5, 20)
              POP(3, "q", "\"a\"", 30, 40) POP(3, "q", "null", 50, 60)
              POP(4, "w", "\"x\"", 0, 100) PUSH(5, "w", "x", 40, 50, 1));
    /* an unknown push may have happened before a later push (its pop comes after) or never */
    expect_ok(PUSH_UNKNOWN(1, "q", "a", 0) PUSH(2, "q", "b", 10, 20, 2) POP(3, "q", "\"a\"", 30, 40)
              POP(3, "q", "\"b\"", 50, 60) PUSH_UNKNOWN(1, "r", "lost", 0) POP(2, "r", "null", 10, 20));
}

static void test_queue_lost_element(void **state)
{
    (void)state;
    /* a was acknowledged, and an empty queue is seen after with no pop of a */
    expect_violation(PUSH(1, "q", "a", 0, 10, 1) POP(2, "q", "null", 20, 30), "q", 2,
                     (const uint32_t[]){ 1, 2 });
    /* an empty pop concurrent with the push may come first; one after it may not (unless the
     * first one took a: every one of the three is needed) */
    expect_violation(PUSH(1, "q", "a", 0, 10, 1) POP(2, "q", "null", 5, 15)
                     POP(2, "q", "null", 20, 30), "q", 3, (const uint32_t[]){ 1, 2, 3 });
}

static void test_queue_duplicate_delivery(void **state)
{
    (void)state;
    /* two pops of one element: whatever the push did, it was pushed once */
    expect_violation(PUSH(1, "q", "a", 0, 10, 1) POP(2, "q", "\"a\"", 20, 30)
                     POP(3, "q", "\"a\"", 25, 35), "q", 2, (const uint32_t[]){ 2, 3 });
    expect_violation(PUSH(1, "q", "a", 0, 10, 1) POP(2, "q", "\"a\"", 20, 30)
                     PUSH(1, "q", "b", 40, 50, 1) POP(3, "q", "\"a\"", 60, 70),
                     "q", 2, (const uint32_t[]){ 3, 4 });
}

static void test_queue_order_and_lengths(void **state)
{
    (void)state;
    /* FIFO: b went in behind an element (its length is 2), so it cannot come out first */
    expect_violation(PUSH(1, "q", "a", 0, 10, 1) PUSH(1, "q", "b", 20, 30, 2)
                     POP(2, "q", "\"b\"", 40, 50), "q", 2, (const uint32_t[]){ 2, 3 });
    /* FIFO between concurrent pushes: their lengths order them, a before b */
    expect_violation(PUSH(1, "q", "a", 0, 10, 1) PUSH(2, "q", "b", 0, 10, 2)
                     POP(3, "q", "\"b\"", 20, 30) POP(3, "q", "\"a\"", 40, 50),
                     "q", 2, (const uint32_t[]){ 2, 3 });
    /* a pop of an element nobody pushed */
    expect_violation(POP(2, "q", "\"z\"", 40, 50), "q", 1, (const uint32_t[]){ 1 });
    /* the length a push returns counts what is in the queue */
    expect_violation(PUSH(1, "q", "a", 0, 10, 1) PUSH(1, "q", "b", 20, 30, 1), "q", 2,
                     (const uint32_t[]){ 1, 2 });
}

static void test_set_valid(void **state)
{
    (void)state;
    expect_ok(SETOP(1, "sadd", "s", "m", 0, 10, 1) SETOP(2, "sismember", "s", "m", 5, 15, 0)
              SETOP(2, "sismember", "s", "m", 20, 30, 1) SETOP(3, "sadd", "s", "m", 25, 35, 0)
              SETOP(1, "srem", "s", "m", 40, 50, 1) SETOP(3, "sismember", "s", "m", 45, 55, 1)
              SETOP(3, "srem", "s", "m", 60, 70, 0) SETOP(1, "sismember", "s", "n", 0, 70, 0));
}

static void test_set_refuted(void **state)
{
    (void)state;
    /* a stale read: the member was added, then read as absent */
    expect_violation(SETOP(1, "sadd", "s", "m", 0, 10, 1) SETOP(2, "sismember", "s", "m", 20, 30, 0),
                     "s", 2, (const uint32_t[]){ 1, 2 });
    /* added twice with no removal between: the second cannot have found it absent */
    expect_violation(SETOP(1, "sadd", "s", "m", 0, 10, 1) SETOP(2, "sadd", "s", "m", 20, 30, 1),
                     "s", 2, (const uint32_t[]){ 1, 2 });
    /* removed twice: a member leaves once */
    expect_violation(SETOP(1, "sadd", "s", "m", 0, 10, 1) SETOP(2, "srem", "s", "m", 20, 30, 1)
                     SETOP(3, "srem", "s", "m", 15, 35, 1), "s", 2, (const uint32_t[]){ 3, 2 });
    /* members are independent: another member's add does not explain this one */
    expect_violation(SETOP(1, "sadd", "s", "n", 0, 10, 1) SETOP(2, "sismember", "s", "m", 20, 30, 1),
                     "s", 1, (const uint32_t[]){ 2 });
}

static void test_collection_parse(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"client\":1,\"op\":\"push\",\"key\":\"q\",\"call\":1,\"return\":2,\"output\":1}",
        "{\"client\":1,\"op\":\"push\",\"key\":\"q\",\"value\":\"a\",\"call\":1,\"return\":2,"
        "\"output\":0}",
        "{\"client\":1,\"op\":\"pop\",\"key\":\"q\",\"value\":\"a\",\"call\":1,\"return\":2,"
        "\"output\":null}",
        "{\"client\":1,\"op\":\"pop\",\"key\":\"q\",\"call\":1,\"return\":2,\"output\":3}",
        "{\"client\":1,\"op\":\"sadd\",\"key\":\"s\",\"value\":\"m\",\"call\":1,\"return\":2,"
        "\"output\":2}",
        "{\"client\":1,\"op\":\"sismember\",\"key\":\"s\",\"call\":1,\"return\":2,\"output\":1}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lincheck_history *history = lincheck_history_create();
        char error[LINCHECK_ERROR_BYTES_MAX];
        assert_int_equal(lincheck_history_parse_jsonl(history, bad[i], strlen(bad[i]), error,
                                                      sizeof(error)), -1);
        assert_true(strncmp(error, "line 1: ", 8) == 0);
        lincheck_history_destroy(history);
    }
    /* what print writes, parse reads back the same */
    const char *text = PUSH(1, "q", "a", 0, 10, 1) POP(2, "q", "\"a\"", 20, 30)
        POP(2, "q", "null", 40, 50) PUSH_UNKNOWN(1, "q", "b", 60)
        SETOP(3, "sadd", "s", "m", 0, 10, 1) SETOP(3, "srem", "s", "m", 20, 30, 0)
        SETOP(3, "sismember", "s", "m", 40, 50, 1);
    struct lincheck_history *history = lincheck_history_create();
    char error[LINCHECK_ERROR_BYTES_MAX];
    assert_int_equal(lincheck_history_parse_jsonl(history, text, strlen(text), error,
                                                  sizeof(error)), 0);
    char *printed = NULL;
    size_t printed_len = 0;
    FILE *out = open_memstream(&printed, &printed_len);
    assert_non_null(out);
    for (uint32_t i = 0; i < lincheck_history_count(history); i++) {
        lincheck_op_print_json(lincheck_history_op(history, i), out);
        fputc('\n', out);
    }
    fclose(out);
    assert_string_equal(printed, text);
    free(printed);
    lincheck_history_destroy(history);
}

/* --- the brute-force oracle ---------------------------------------------------------------- */

struct oracle_op {
    enum lincheck_kind kind;
    char value;        /* PUSH, set ops: the element or member */
    char output;       /* POP: the element, 0 for null */
    int64_t output_int;
    int64_t call;
    int64_t ret;
    bool returned;
};

struct oracle_state {
    char queue[ORACLE_QUEUE_MAX];
    int length;
    uint32_t members; /* bit per member 'a' + i */
};

static bool oracle_apply(const struct oracle_op *op, struct oracle_state *s)
{
    uint32_t bit = op->value ? 1u << (op->value - 'a') : 0;
    bool member = (s->members & bit) != 0;
    switch (op->kind) {
    case LINCHECK_PUSH:
        assert_true(s->length < ORACLE_QUEUE_MAX);
        s->queue[s->length++] = op->value;
        return !op->returned || op->output_int == s->length;
    case LINCHECK_POP: {
        char head = s->length > 0 ? s->queue[0] : 0;
        if (s->length > 0) {
            memmove(s->queue, s->queue + 1, (size_t)--s->length);
        }
        return !op->returned || head == op->output;
    }
    case LINCHECK_SADD:
        s->members |= bit;
        return !op->returned || member == (op->output_int == 0);
    case LINCHECK_SREM:
        s->members &= ~bit;
        return !op->returned || member == (op->output_int == 1);
    case LINCHECK_SISMEMBER:
        return member == (op->output_int == 1);
    default:
        fail_msg("oracle: unexpected kind");
    }
    return false;
}

/* Depth-first over orders that respect real time; an unknown op may also never happen. */
static bool oracle_search(const struct oracle_op *ops, int count, uint32_t used,
                          struct oracle_state s)
{
    bool all_returned_used = true;
    for (int i = 0; i < count; i++)
        if (ops[i].returned && !(used & (1u << i))) all_returned_used = false;
    if (all_returned_used) return true;
    for (int i = 0; i < count; i++) {
        if (used & (1u << i)) continue;
        bool admissible = true;
        for (int j = 0; j < count; j++)
            if (!(used & (1u << j)) && j != i && ops[j].returned && ops[j].ret < ops[i].call)
                admissible = false;
        if (!admissible) continue;
        if (!ops[i].returned && oracle_search(ops, count, used | (1u << i), s))
            return true; /* i never happens */
        if (!ops[i].returned && ops[i].kind == LINCHECK_SISMEMBER) continue;
        struct oracle_state next = s;
        if (!oracle_apply(&ops[i], &next)) continue;
        if (oracle_search(ops, count, used | (1u << i), next)) return true;
    }
    return false;
}

static uint64_t oracle_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

/* A random op. Queues: elements mostly unique (as the workload pushes them), sometimes a
 * duplicate, pops of a pushed element, of one never pushed, or null, lengths mostly right. */
static void oracle_make(uint64_t *rng, bool queue, int index, struct oracle_op *op,
                        struct lincheck_op *out, char *value_text, char *output_text)
{
    memset(op, 0, sizeof(*op));
    op->call = (int64_t)(oracle_random(rng) % 16);
    op->ret = op->call + 1 + (int64_t)(oracle_random(rng) % 8);
    op->returned = oracle_random(rng) % 6 != 0;
    if (queue) {
        op->kind = oracle_random(rng) % 2 ? LINCHECK_PUSH : LINCHECK_POP;
        op->value = (char)('a' + (oracle_random(rng) % 8 == 0 ? 0 : index));
        op->output = oracle_random(rng) % 4 == 0 ? 0 : (char)('a' + oracle_random(rng) % 5);
        op->output_int = 1 + (int64_t)(oracle_random(rng) % 3);
    } else {
        static const enum lincheck_kind kinds[] = { LINCHECK_SADD, LINCHECK_SREM,
                                                    LINCHECK_SISMEMBER };
        op->kind = kinds[oracle_random(rng) % 3];
        op->value = (char)('a' + oracle_random(rng) % 2);
        op->output_int = (int64_t)(oracle_random(rng) % 2);
    }
    value_text[0] = op->value;
    value_text[1] = '\0';
    output_text[0] = op->output;
    output_text[1] = '\0';
    *out = (struct lincheck_op){
        .client = 1 + oracle_random(rng) % 3, .kind = op->kind, .key = "k",
        .value = op->kind == LINCHECK_POP ? NULL : value_text, .call_ns = op->call,
        .returned = op->returned, .return_ns = op->ret,
    };
    if (!op->returned) return;
    out->output_int = op->kind == LINCHECK_POP ? 0 : op->output_int;
    out->output_null = op->kind == LINCHECK_POP && op->output == 0;
    out->output_value = op->kind == LINCHECK_POP && op->output != 0 ? output_text : NULL;
}

static void oracle_agrees(bool queue)
{
    uint64_t rng = queue ? 7 : 11;
    int violations = 0, linearizable = 0;
    for (int h = 0; h < ORACLE_HISTORIES; h++) {
        int count = 1 + (int)(oracle_random(&rng) % ORACLE_OPS_MAX);
        struct oracle_op ops[ORACLE_OPS_MAX];
        char texts[ORACLE_OPS_MAX][2][2];
        struct lincheck_history *history = lincheck_history_create();
        for (int i = 0; i < count; i++) {
            struct lincheck_op op;
            oracle_make(&rng, queue, i, &ops[i], &op, texts[i][0], texts[i][1]);
            assert_int_equal(lincheck_history_add(history, &op), 0);
        }
        struct oracle_state empty = { .length = 0 };
        bool expected = oracle_search(ops, count, 0, empty);
        struct lincheck_result result;
        enum lincheck_verdict verdict = lincheck_check(history, NULL, &result);
        if (verdict != (expected ? LINCHECK_OK : LINCHECK_VIOLATION)) {
            lincheck_result_print(history, &result, stderr);
            for (uint32_t i = 0; i < lincheck_history_count(history); i++) {
                lincheck_op_print_json(lincheck_history_op(history, i), stderr);
                fputc('\n', stderr);
            }
            fail_msg("%s history %d: oracle says %s", queue ? "queue" : "set", h,
                     expected ? "linearizable" : "not");
        }
        if (expected) linearizable++;
        else violations++;
        lincheck_history_destroy(history);
    }
    /* both verdicts were exercised */
    assert_true(violations > ORACLE_HISTORIES / 10);
    assert_true(linearizable > ORACLE_HISTORIES / 10);
}

static void test_oracle_agrees_queue(void **state)
{
    (void)state;
    oracle_agrees(true);
}

static void test_oracle_agrees_set(void **state)
{
    (void)state;
    oracle_agrees(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_valid),
        cmocka_unit_test(test_queue_lost_element),
        cmocka_unit_test(test_queue_duplicate_delivery),
        cmocka_unit_test(test_queue_order_and_lengths),
        cmocka_unit_test(test_set_valid),
        cmocka_unit_test(test_set_refuted),
        cmocka_unit_test(test_collection_parse),
        cmocka_unit_test(test_oracle_agrees_queue),
        cmocka_unit_test(test_oracle_agrees_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
