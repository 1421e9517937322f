/*
 * test_resp.c — the RESP request parser and reply encoder: every command shape, splits at
 * every byte (with the buffer moved between calls), every error message, limits, pipelines,
 * inline quoting, and replies in RESP2 and RESP3 with the output cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/resp.h"

enum { TEST_ARGS_MAX = 8, TEST_COMMANDS_MAX = 8 };

/* What one input is expected to yield: commands, then an error or the end of the input. */
struct test_expect {
    const char *input;
    size_t input_len; /* 0: strlen(input) */
    int commands;
    int argc[TEST_COMMANDS_MAX];
    const char *argv[TEST_COMMANDS_MAX][TEST_ARGS_MAX]; /* each NUL-free, except via lens */
    const char *error; /* NULL: the input ends cleanly after the commands */
};

static size_t test_len(const struct test_expect *e)
{
    return e->input_len ? e->input_len : strlen(e->input);
}

static void test_check_command(const struct test_expect *e, int k, const struct resp_command *c)
{
    assert_true(k < e->commands);
    assert_int_equal(c->argc, e->argc[k]);
    for (int i = 0; i < e->argc[k]; i++) {
        assert_int_equal(c->argv[i].len, strlen(e->argv[k][i]));
        assert_memory_equal(c->argv[i].data, e->argv[k][i], c->argv[i].len);
    }
}

/*
 * Feeds the input `step` bytes at a time into a buffer that is reallocated (moved) on every
 * call, consuming commands as they complete, and checks the outcome against `e`. step = 0
 * feeds everything at once. Returns after the expected error or the end of the input.
 */
static void test_feed(const struct test_expect *e, size_t step, const struct resp_limits *limits)
{
    struct resp_parser p;
    resp_parser_init(&p, limits);
    size_t total = test_len(e), received = 0, offset = 0;
    uint8_t *buf = NULL;
    int k = 0;
    for (size_t guard = 0; guard <= 2 * total + 2; guard++) {
        size_t more = step == 0 ? total - received : step;
        if (more > total - received) more = total - received;
        received += more;
        /* A fresh allocation holding exactly the unconsumed bytes: the parser must not keep
         * pointers into the previous one. */
        uint8_t *moved = malloc(received - offset + 1);
        assert_non_null(moved);
        memcpy(moved, e->input + offset, received - offset);
        free(buf);
        buf = moved;
        size_t base = offset;
        struct resp_command c;
        int rc;
        while ((rc = resp_parse(&p, buf + (offset - base), received - offset, &c)) ==
               RESP_PARSE_COMPLETE) {
            test_check_command(e, k++, &c);
            assert_true(c.consumed > 0);
            offset += c.consumed;
        }
        if (rc == RESP_PARSE_ERROR) {
            assert_non_null(e->error);
            assert_string_equal(p.error, e->error);
            assert_int_equal(k, e->commands);
            /* Sticky until reset. */
            assert_int_equal(resp_parse(&p, buf, received - base, &c), RESP_PARSE_ERROR);
            free(buf);
            resp_parser_free(&p);
            return;
        }
        assert_int_equal(rc, RESP_PARSE_NEED_MORE);
        if (received == total) break;
    }
    assert_null(e->error);
    assert_int_equal(k, e->commands);
    assert_int_equal(offset, total);
    free(buf);
    resp_parser_free(&p);
}

/* All at once, one byte at a time, and in every pair of pieces. */
static void test_feed_all_ways(const struct test_expect *e, const struct resp_limits *limits)
{
    test_feed(e, 0, limits);
    test_feed(e, 1, limits);
    for (size_t step = 2; step <= test_len(e); step++) test_feed(e, step, limits);
}

static const struct test_expect test_valid[] = {
    {.input = "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n", .commands = 1, .argc = {3},
     .argv = {{"SET", "a", "1"}}},
    {.input = "*1\r\n$4\r\nPING\r\n", .commands = 1, .argc = {1}, .argv = {{"PING"}}},
    {.input = "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", .commands = 1, .argc = {2}, .argv = {{"GET", ""}}},
    {.input = "*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n", .commands = 1, .argc = {2},
     .argv = {{"GET", "a\r\nb"}}},
    {.input = "*0\r\n", .commands = 1, .argc = {0}},
    {.input = "*-1\r\n", .commands = 1, .argc = {0}},
    {.input = "PING\r\n", .commands = 1, .argc = {1}, .argv = {{"PING"}}},
    {.input = "set a 1\n", .commands = 1, .argc = {3}, .argv = {{"set", "a", "1"}}},
    {.input = "  get \t  key  \r\n", .commands = 1, .argc = {2}, .argv = {{"get", "key"}}},
    {.input = "\r\n", .commands = 1, .argc = {0}},
    {.input = "\n", .commands = 1, .argc = {0}},
    {.input = "set \"a b\" 'c d'\r\n", .commands = 1, .argc = {3}, .argv = {{"set", "a b", "c d"}}},
    {.input = "echo \"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", .commands = 1, .argc = {2},
     .argv = {{"echo", "AJ\n\r\t\b\a\\\"q"}}},
    {.input = "echo \"\\x4\" \"\\xZZ\"\r\n", .commands = 1, .argc = {3},
     .argv = {{"echo", "x4", "xZZ"}}},
    {.input = "echo 'it\\'s' 'a\\nb'\r\n", .commands = 1, .argc = {3},
     .argv = {{"echo", "it's", "a\\nb"}}},
    {.input = "echo \"\"\r\n", .commands = 1, .argc = {2}, .argv = {{"echo", ""}}},
    {.input = "a\"b c\" d'e f'\r\n", .commands = 1, .argc = {2}, .argv = {{"ab c", "de f"}}},
    {.input = "echo \x0b x\r\n", .commands = 1, .argc = {2}, .argv = {{"echo", "x"}}},
    {.input = "echo a\rb\r\n", .commands = 1, .argc = {3}, .argv = {{"echo", "a", "b"}}},
    /* A NUL ends the inline arguments, as in Redis (which parses the line as a C string). */
    {.input = "set a b\0c d\r\n", .input_len = 13, .commands = 1, .argc = {3},
     .argv = {{"set", "a", "b"}}},
    /* Pipelines mixing every shape. */
    {.input = "*1\r\n$4\r\nPING\r\nPING\r\n*0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nquit\n",
     .commands = 6, .argc = {1, 1, 0, 0, 2, 1},
     .argv = {{"PING"}, {"PING"}, {0}, {0}, {"GET", "k"}, {"quit"}}},
};

static void test_valid_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(test_valid) / sizeof(test_valid[0]); i++) {
        test_feed_all_ways(&test_valid[i], NULL);
    }
}

static const struct test_expect test_errors[] = {
    {.input = "*3\r\nx", .error = "Protocol error: expected '$', got 'x'"},
    {.input = "*2\r\n$3\r\nGET\r\n:1\r\n", .error = "Protocol error: expected '$', got ':'"},
    {.input = "*1\r\n\r\n", .error = "Protocol error: expected '$', got ' '"},
    {.input = "*abc\r\n", .error = "Protocol error: invalid multibulk length"},
    {.input = "*\r\n", .error = "Protocol error: invalid multibulk length"},
    {.input = "*01\r\n", .error = "Protocol error: invalid multibulk length"},
    {.input = "*+1\r\n", .error = "Protocol error: invalid multibulk length"},
    {.input = "* 1\r\n", .error = "Protocol error: invalid multibulk length"},
    {.input = "*1\rx", .error = "Protocol error: invalid multibulk length"},
    {.input = "*99999999999999999999\r\n", .error = "Protocol error: invalid multibulk length"},
    {.input = "*65537\r\n", .error = "Protocol error: invalid multibulk length"},
    {.input = "*1\r\n$-1\r\n", .error = "Protocol error: invalid bulk length"},
    {.input = "*1\r\n$abc\r\n", .error = "Protocol error: invalid bulk length"},
    {.input = "*1\r\n$\r\n", .error = "Protocol error: invalid bulk length"},
    {.input = "*1\r\n$1\rxx", .error = "Protocol error: invalid bulk length"},
    {.input = "*1\r\n$2097153\r\n", .error = "Protocol error: invalid bulk length"},
    {.input = "*1\r\n$3\r\nabcd\r\n", .error = "Protocol error: bulk string not terminated by CRLF"},
    {.input = "*1\r\n$3\r\nabc\n\r", .error = "Protocol error: bulk string not terminated by CRLF"},
    {.input = "set \"a\r\n", .error = "Protocol error: unbalanced quotes in request"},
    {.input = "set 'a\r\n", .error = "Protocol error: unbalanced quotes in request"},
    {.input = "set \"a\"b\r\n", .error = "Protocol error: unbalanced quotes in request"},
    {.input = "set 'a'b\r\n", .error = "Protocol error: unbalanced quotes in request"},
    {.input = "a\"b c'd\r\n", .error = "Protocol error: unbalanced quotes in request"},
    {.input = "set \"a\\\"\r\n", .error = "Protocol error: unbalanced quotes in request"},
    /* A pipeline: the commands before the error are still handed out. */
    {.input = "PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n!", .commands = 2, .argc = {1, 1},
     .argv = {{"PING"}, {"PING"}}, .error = "Protocol error: expected '$', got '!'"},
};

static void test_error_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(test_errors) / sizeof(test_errors[0]); i++) {
        test_feed_all_ways(&test_errors[i], NULL);
    }
}

/* Long inputs built at run time: the size limits, fed whole and in a few pieces. */
static void test_feed_some_ways(const struct test_expect *e, const struct resp_limits *limits)
{
    static const size_t steps[] = {0, 999, 4096, 65535, 65536, 65537};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) test_feed(e, steps[i], limits);
}

static void test_size_limits(void **state)
{
    (void)state;
    size_t big = RESP_INLINE_BYTES_MAX_DEFAULT + 2;
    char *input = malloc(big + 64);
    assert_non_null(input);

    memset(input, 'a', big);
    input[big] = '\0';
    struct test_expect e = {.input = input, .error = "Protocol error: too big inline request"};
    test_feed_some_ways(&e, NULL);

    /* A line of exactly the bound passes, with "\r\n" or "\n"; one byte more does not. */
    memset(input, 'a', RESP_INLINE_BYTES_MAX_DEFAULT);
    strcpy(input + RESP_INLINE_BYTES_MAX_DEFAULT, "\r\n");
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    struct resp_command c;
    assert_int_equal(resp_parse(&p, (const uint8_t *)input, strlen(input), &c),
                     RESP_PARSE_COMPLETE);
    assert_int_equal(c.argc, 1);
    assert_int_equal(c.argv[0].len, RESP_INLINE_BYTES_MAX_DEFAULT);
    resp_parser_free(&p);
    input[RESP_INLINE_BYTES_MAX_DEFAULT] = 'a';
    strcpy(input + RESP_INLINE_BYTES_MAX_DEFAULT + 1, "\n");
    test_feed_some_ways(&e, NULL);

    input[0] = '*';
    memset(input + 1, '1', big - 1);
    input[big] = '\0';
    e.error = "Protocol error: too big mbulk count string";
    test_feed_some_ways(&e, NULL);

    memset(input + 1, '1', big + 6);
    input[big + 7] = '\0';
    memcpy(input, "*1\r\n$", 5);
    e.error = "Protocol error: too big bulk count string";
    test_feed_some_ways(&e, NULL);
    free(input);
}

/* A 2 MiB bulk string (the default bound) arrives in pieces and is scanned once. */
static void test_large_bulk(void **state)
{
    (void)state;
    size_t n = RESP_BULK_BYTES_MAX_DEFAULT;
    size_t total = 32 + n;
    uint8_t *input = malloc(total);
    assert_non_null(input);
    int header = sprintf((char *)input, "*2\r\n$3\r\nSET\r\n$%zu\r\n", n);
    memset(input + header, 'v', n);
    memcpy(input + header + n, "\r\n", 2);
    total = (size_t)header + n + 2;

    struct resp_parser p;
    resp_parser_init(&p, NULL);
    struct resp_command c;
    for (size_t len = 0; len < total; len += 1000) {
        assert_int_equal(resp_parse(&p, input, len, &c), RESP_PARSE_NEED_MORE);
    }
    assert_int_equal(resp_parse(&p, input, total, &c), RESP_PARSE_COMPLETE);
    assert_int_equal(c.argc, 2);
    assert_int_equal(c.argv[1].len, n);
    assert_ptr_equal(c.argv[1].data, (const char *)input + header); /* zero copy */
    assert_int_equal(c.consumed, total);
    resp_parser_free(&p);
    free(input);
}

static void test_configured_limits(void **state)
{
    (void)state;
    struct resp_limits limits = {.args_max = 2, .bulk_bytes_max = 3, .inline_bytes_max = 16};
    struct test_expect ok = {.input = "*2\r\n$3\r\nabc\r\n$0\r\n\r\n", .commands = 1,
                             .argc = {2}, .argv = {{"abc", ""}}};
    test_feed_all_ways(&ok, &limits);
    struct test_expect e1 = {.input = "*3\r\n", .error = "Protocol error: invalid multibulk length"};
    test_feed_all_ways(&e1, &limits);
    struct test_expect e2 = {.input = "*1\r\n$4\r\n", .error = "Protocol error: invalid bulk length"};
    test_feed_all_ways(&e2, &limits);
    struct test_expect e3 = {.input = "a b c\r\n", .error = "Protocol error: too big inline request"};
    test_feed_all_ways(&e3, &limits);
    struct test_expect e4 = {.input = "0123456789abcdefg\r\n",
                             .error = "Protocol error: too big inline request"};
    test_feed_all_ways(&e4, &limits);
    struct test_expect ok2 = {.input = "0123456789abcdef\r\n", .commands = 1, .argc = {1},
                              .argv = {{"0123456789abcdef"}}};
    test_feed_all_ways(&ok2, &limits);
    struct test_expect e5 = {.input = "*1\r\n$12345678901234567\r\n",
                             .error = "Protocol error: too big bulk count string"};
    test_feed_all_ways(&e5, &limits);
}

/* Many arguments: the arrays grow past their first capacity, up to the bound. */
static void test_many_args(void **state)
{
    (void)state;
    enum { ARGS = 1000 };
    char *input = malloc(16 + ARGS * 16);
    assert_non_null(input);
    size_t len = (size_t)sprintf(input, "*%d\r\n", ARGS);
    for (int i = 0; i < ARGS; i++) len += (size_t)sprintf(input + len, "$%d\r\n%d\r\n",
                                                          i < 10 ? 1 : i < 100 ? 2 : 3, i);
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    struct resp_command c;
    for (size_t prefix = 0; prefix < len; prefix += 13) {
        assert_int_equal(resp_parse(&p, (const uint8_t *)input, prefix, &c), RESP_PARSE_NEED_MORE);
    }
    assert_int_equal(resp_parse(&p, (const uint8_t *)input, len, &c), RESP_PARSE_COMPLETE);
    assert_int_equal(c.argc, ARGS);
    assert_int_equal(c.argv[999].len, 3);
    assert_memory_equal(c.argv[999].data, "999", 3);
    resp_parser_free(&p);
    free(input);
}

static void test_reset_after_error(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    struct resp_command c;
    assert_int_equal(resp_parse(&p, (const uint8_t *)"*x\r\n", 4, &c), RESP_PARSE_ERROR);
    assert_int_equal(resp_parse(&p, (const uint8_t *)"PING\r\n", 6, &c), RESP_PARSE_ERROR);
    resp_parser_reset(&p);
    assert_string_equal(p.error, "");
    assert_int_equal(resp_parse(&p, (const uint8_t *)"PING\r\n", 6, &c), RESP_PARSE_COMPLETE);
    assert_int_equal(c.argc, 1);
    /* A partial command is forgotten by reset. */
    assert_int_equal(resp_parse(&p, (const uint8_t *)"*2\r\n$1\r\na\r\n", 11, &c),
                     RESP_PARSE_NEED_MORE);
    resp_parser_reset(&p);
    assert_int_equal(resp_parse(&p, (const uint8_t *)"\n", 1, &c), RESP_PARSE_COMPLETE);
    assert_int_equal(c.argc, 0);
    assert_int_equal(resp_parse(&p, NULL, 0, &c), RESP_PARSE_NEED_MORE);
    resp_parser_free(&p);
}

static void test_string_to_int64(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
        int64_t value;
    } cases[] = {
        {"0", true, 0},
        {"1", true, 1},
        {"-1", true, -1},
        {"9223372036854775807", true, INT64_MAX},
        {"-9223372036854775808", true, INT64_MIN},
        {"9223372036854775808", false, 0},
        {"-9223372036854775809", false, 0},
        {"18446744073709551616", false, 0},
        {"99999999999999999999", false, 0},
        {"123456789012345678901", false, 0},
        {"", false, 0},
        {"-", false, 0},
        {"-0", false, 0},
        {"00", false, 0},
        {"01", false, 0},
        {"+1", false, 0},
        {" 1", false, 0},
        {"1 ", false, 0},
        {"1a", false, 0},
        {"--1", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 42;
        bool ok = resp_string_to_int64(cases[i].s, strlen(cases[i].s), &v);
        assert_int_equal(ok, cases[i].ok);
        if (ok) assert_true(v == cases[i].value);
    }
}

/* ---- replies ---------------------------------------------------------------------------- */

static void test_out_equal(struct resp_out *out, const char *expected)
{
    assert_int_equal(out->len, strlen(expected));
    assert_memory_equal(out->data, expected, out->len);
    resp_out_consume(out, out->len);
}

static void test_replies(void **state)
{
    (void)state;
    struct resp_out out;
    resp_out_init(&out, RESP_OUT_BYTES_MAX_DEFAULT, 2);
    for (int protocol = 2; protocol <= 3; protocol++) {
        resp_out_set_protocol(&out, protocol);
        assert_int_equal(resp_reply_simple(&out, "OK", 2), 0);
        test_out_equal(&out, "+OK\r\n");
        assert_int_equal(resp_reply_simple(&out, "a\r\nb", 4), 0);
        test_out_equal(&out, "+a  b\r\n");
        assert_int_equal(resp_reply_error(&out, "ERR unknown command", 19), 0);
        test_out_equal(&out, "-ERR unknown command\r\n");
        assert_int_equal(resp_reply_error(&out, "WRONGTYPE no", 12), 0);
        test_out_equal(&out, "-WRONGTYPE no\r\n");
        assert_int_equal(resp_reply_error(&out, "-WRONGTYPE no", 13), 0);
        test_out_equal(&out, "-WRONGTYPE no\r\n");
        assert_int_equal(resp_reply_error(&out, "", 0), 0);
        test_out_equal(&out, "-ERR\r\n");
        assert_int_equal(resp_reply_error(&out, "ERR x\ny\r", 8), 0);
        test_out_equal(&out, "-ERR x y \r\n");
        assert_int_equal(resp_reply_integer(&out, 0), 0);
        assert_int_equal(resp_reply_integer(&out, -7), 0);
        assert_int_equal(resp_reply_integer(&out, INT64_MAX), 0);
        assert_int_equal(resp_reply_integer(&out, INT64_MIN), 0);
        test_out_equal(&out, ":0\r\n:-7\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
        assert_int_equal(resp_reply_bulk(&out, "a\r\nb", 4), 0);
        assert_int_equal(resp_reply_bulk(&out, NULL, 0), 0);
        test_out_equal(&out, "$4\r\na\r\nb\r\n$0\r\n\r\n");
        assert_int_equal(resp_reply_array(&out, 2), 0);
        assert_int_equal(resp_reply_array(&out, 0), 0);
        test_out_equal(&out, "*2\r\n*0\r\n");
        assert_int_equal(resp_reply_null(&out), 0);
        test_out_equal(&out, protocol == 2 ? "$-1\r\n" : "_\r\n");
        assert_int_equal(resp_reply_null_array(&out), 0);
        test_out_equal(&out, protocol == 2 ? "*-1\r\n" : "_\r\n");
        assert_int_equal(resp_reply_map(&out, 3), 0);
        test_out_equal(&out, protocol == 2 ? "*6\r\n" : "%3\r\n");
    }
    assert_false(out.overflowed);
    resp_out_free(&out);
}

/* A parse error, sent as the server does, gives Redis' exact bytes. */
static void test_protocol_error_reply(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    struct resp_command c;
    assert_int_equal(resp_parse(&p, (const uint8_t *)"*1\r\n\r\n", 6, &c), RESP_PARSE_ERROR);
    char text[RESP_ERROR_BYTES_MAX + 8];
    int len = snprintf(text, sizeof(text), "ERR %s", p.error);
    struct resp_out out;
    resp_out_init(&out, 1024, 2);
    assert_int_equal(resp_reply_error(&out, text, (size_t)len), 0);
    test_out_equal(&out, "-ERR Protocol error: expected '$', got ' '\r\n");
    resp_out_free(&out);
    resp_parser_free(&p);
}

/* Replies are written whole or not at all; past the cap the buffer stays as it was. */
static void test_reply_cap(void **state)
{
    (void)state;
    struct resp_out out;
    resp_out_init(&out, 32, 2);
    assert_int_equal(resp_reply_bulk(&out, "01234567890123456789012345", 26), -1);
    assert_true(out.overflowed);
    assert_int_equal(out.len, 0);
    assert_int_equal(resp_reply_simple(&out, "OK", 2), -1); /* sticky */
    resp_out_free(&out);

    resp_out_init(&out, 32, 3);
    assert_int_equal(resp_reply_bulk(&out, "012345678901234567890123", 24), 0);
    assert_int_equal(out.len, 31);
    assert_int_equal(resp_reply_null(&out), -1); /* "_\r\n" would make 34 */
    assert_int_equal(out.len, 31);
    assert_true(out.overflowed);
    resp_out_free(&out);

    /* Growth past the first allocation, and consume keeping the rest in order. */
    resp_out_init(&out, 1u << 20, 2);
    static char value[10000];
    memset(value, 'z', sizeof(value));
    for (int i = 0; i < 50; i++) assert_int_equal(resp_reply_bulk(&out, value, sizeof(value)), 0);
    assert_int_equal(out.len, 50 * (8 + sizeof(value) + 2));
    resp_out_consume(&out, 8 + sizeof(value) + 2);
    assert_memory_equal(out.data, "$10000\r\n", 8);
    assert_false(out.overflowed);
    resp_out_free(&out);
}

/* What the parser accepts, echoed as bulk strings, parses back to the same arguments. */
static void test_echo_round_trip(void **state)
{
    (void)state;
    static const char *inputs[] = {"set \"a\\x00b\" 'c d' e\r\n", "*2\r\n$1\r\n\0\r\n$0\r\n\r\n"};
    static const size_t lens[] = {22, 17};
    for (int k = 0; k < 2; k++) {
        struct resp_parser p, q;
        resp_parser_init(&p, NULL);
        resp_parser_init(&q, NULL);
        struct resp_command c, d;
        assert_int_equal(resp_parse(&p, (const uint8_t *)inputs[k], lens[k], &c),
                         RESP_PARSE_COMPLETE);
        struct resp_out out;
        resp_out_init(&out, 1024, 2);
        assert_int_equal(resp_reply_array(&out, c.argc), 0);
        for (uint32_t i = 0; i < c.argc; i++) {
            assert_int_equal(resp_reply_bulk(&out, c.argv[i].data, c.argv[i].len), 0);
        }
        assert_int_equal(resp_parse(&q, out.data, out.len, &d), RESP_PARSE_COMPLETE);
        assert_int_equal(d.consumed, out.len);
        assert_int_equal(d.argc, c.argc);
        for (uint32_t i = 0; i < c.argc; i++) {
            assert_int_equal(d.argv[i].len, c.argv[i].len);
            assert_memory_equal(d.argv[i].data, c.argv[i].data, c.argv[i].len);
        }
        assert_int_equal(c.argv[k == 0 ? 1 : 0].len, k == 0 ? 3 : 1); /* NUL bytes kept */
        resp_out_free(&out);
        resp_parser_free(&p);
        resp_parser_free(&q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_inputs),
        cmocka_unit_test(test_error_inputs),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_large_bulk),
        cmocka_unit_test(test_configured_limits),
        cmocka_unit_test(test_many_args),
        cmocka_unit_test(test_reset_after_error),
        cmocka_unit_test(test_string_to_int64),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_protocol_error_reply),
        cmocka_unit_test(test_reply_cap),
        cmocka_unit_test(test_echo_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
