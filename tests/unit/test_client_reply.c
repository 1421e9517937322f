/*
 * test_client_reply.c — the client's RESP2 reply reader: every reply type, nested arrays,
 * every truncation of a valid reply (need more, never an error or a wrong reply), pipelined
 * replies, malformed input, and limits (oversized lengths rejected before any allocation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/reply.h"

/* Parses the whole of `input`, which must be exactly one complete reply. */
static struct client_reply *parse_whole(const char *input, size_t len)
{
    struct client_reply *reply = NULL;
    size_t consumed = 0;
    char error[CLIENT_REPLY_ERROR_BYTES_MAX];
    int rc = client_reply_parse(input, len, NULL, &reply, &consumed, error);
    if (rc != CLIENT_PARSE_COMPLETE)
        fail_msg("parse of %zu bytes: rc %d (%s)", len, rc, error);
    assert_int_equal(consumed, len);
    assert_non_null(reply);
    return reply;
}

/* Every proper prefix of `input` is "need more", with no reply and nothing consumed. */
static void check_prefixes_need_more(const char *input, size_t len)
{
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut + 1); /* exact size: ASan catches any read past the end */
        assert_non_null(copy);
        memcpy(copy, input, cut);
        struct client_reply *reply = (struct client_reply *)1;
        size_t consumed = 99;
        int rc = client_reply_parse(copy, cut, NULL, &reply, &consumed, NULL);
        if (rc != CLIENT_PARSE_NEED_MORE)
            fail_msg("prefix of %zu/%zu bytes: rc %d", cut, len, rc);
        assert_null(reply);
        assert_int_equal(consumed, 0);
        free(copy);
    }
}

static void expect_error(const char *input, size_t len, const struct client_reply_limits *limits,
                         const char *message_part)
{
    struct client_reply *reply = NULL;
    size_t consumed = 0;
    char error[CLIENT_REPLY_ERROR_BYTES_MAX];
    int rc = client_reply_parse(input, len, limits, &reply, &consumed, error);
    if (rc != CLIENT_PARSE_ERROR)
        fail_msg("'%.*s': rc %d, expected an error", (int)len, input, rc);
    assert_null(reply);
    if (strstr(error, message_part) == NULL)
        fail_msg("'%.*s': error '%s' lacks '%s'", (int)len, input, error, message_part);
}

static void test_scalars(void **state)
{
    (void)state;
    struct client_reply *r = parse_whole("+OK\r\n", 5);
    assert_int_equal(r->type, CLIENT_REPLY_STATUS);
    assert_string_equal(r->string, "OK");
    assert_int_equal(r->length, 2);
    client_reply_free(r);

    r = parse_whole("+\r\n", 3);
    assert_int_equal(r->type, CLIENT_REPLY_STATUS);
    assert_int_equal(r->length, 0);
    client_reply_free(r);

    r = parse_whole("-TRYAGAIN no leader\r\n", 21);
    assert_int_equal(r->type, CLIENT_REPLY_ERROR);
    assert_string_equal(r->string, "TRYAGAIN no leader");
    assert_true(client_reply_is_error(r, "TRYAGAIN"));
    assert_false(client_reply_is_error(r, "TRY"));
    assert_false(client_reply_is_error(r, "UNKNOWN"));
    client_reply_free(r);

    const struct { const char *text; int64_t value; } integers[] = {
        {":0\r\n", 0}, {":42\r\n", 42}, {":-7\r\n", -7},
        {":9223372036854775807\r\n", INT64_MAX}, {":-9223372036854775808\r\n", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof(integers) / sizeof(integers[0]); i++) {
        r = parse_whole(integers[i].text, strlen(integers[i].text));
        assert_int_equal(r->type, CLIENT_REPLY_INTEGER);
        assert_true(r->integer == integers[i].value);
        client_reply_free(r);
    }

    r = parse_whole("$5\r\nhello\r\n", 11);
    assert_int_equal(r->type, CLIENT_REPLY_BULK);
    assert_string_equal(r->string, "hello");
    client_reply_free(r);

    r = parse_whole("$0\r\n\r\n", 6);
    assert_int_equal(r->type, CLIENT_REPLY_BULK);
    assert_int_equal(r->length, 0);
    assert_string_equal(r->string, "");
    client_reply_free(r);

    /* A bulk string is binary: CR, LF and NUL inside are data. */
    r = parse_whole("$6\r\na\r\nb\0c\r\n", 12);
    assert_int_equal(r->length, 6);
    assert_memory_equal(r->string, "a\r\nb\0c", 6);
    assert_int_equal(r->string[6], '\0');
    client_reply_free(r);

    r = parse_whole("$-1\r\n", 5);
    assert_int_equal(r->type, CLIENT_REPLY_NIL);
    client_reply_free(r);
}

static void test_arrays(void **state)
{
    (void)state;
    struct client_reply *r = parse_whole("*0\r\n", 4);
    assert_int_equal(r->type, CLIENT_REPLY_ARRAY);
    assert_int_equal(r->count, 0);
    client_reply_free(r);

    r = parse_whole("*-1\r\n", 5);
    assert_int_equal(r->type, CLIENT_REPLY_NIL_ARRAY);
    client_reply_free(r);

    const char mixed[] = "*5\r\n+OK\r\n-ERR x\r\n:3\r\n$2\r\nab\r\n$-1\r\n";
    r = parse_whole(mixed, sizeof(mixed) - 1);
    assert_int_equal(r->count, 5);
    assert_int_equal(r->elements[0].type, CLIENT_REPLY_STATUS);
    assert_int_equal(r->elements[1].type, CLIENT_REPLY_ERROR);
    assert_string_equal(r->elements[1].string, "ERR x");
    assert_int_equal(r->elements[2].integer, 3);
    assert_string_equal(r->elements[3].string, "ab");
    assert_int_equal(r->elements[4].type, CLIENT_REPLY_NIL);
    client_reply_free(r);

    /* SCAN's shape, and deeper: [[a, [b, c]], [], d] */
    const char nested[] =
        "*3\r\n*2\r\n$1\r\na\r\n*2\r\n$1\r\nb\r\n$1\r\nc\r\n*0\r\n$1\r\nd\r\n";
    check_prefixes_need_more(nested, sizeof(nested) - 1);
    r = parse_whole(nested, sizeof(nested) - 1);
    assert_int_equal(r->count, 3);
    const struct client_reply *first = &r->elements[0];
    assert_int_equal(first->type, CLIENT_REPLY_ARRAY);
    assert_int_equal(first->count, 2);
    assert_string_equal(first->elements[0].string, "a");
    assert_int_equal(first->elements[1].count, 2);
    assert_string_equal(first->elements[1].elements[0].string, "b");
    assert_string_equal(first->elements[1].elements[1].string, "c");
    assert_int_equal(r->elements[1].type, CLIENT_REPLY_ARRAY);
    assert_int_equal(r->elements[1].count, 0);
    assert_string_equal(r->elements[2].string, "d");
    client_reply_free(r);
}

/* Nesting right at the depth limit parses; one more level is an error. */
static void test_depth_limit(void **state)
{
    (void)state;
    char text[256];
    size_t at = 0;
    for (int i = 0; i < CLIENT_REPLY_DEPTH_MAX - 1; i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at, "*1\r\n");
    at += (size_t)snprintf(text + at, sizeof(text) - at, ":1\r\n");
    struct client_reply *r = parse_whole(text, at);
    const struct client_reply *e = r;
    for (int i = 0; i < CLIENT_REPLY_DEPTH_MAX - 1; i++) {
        assert_int_equal(e->type, CLIENT_REPLY_ARRAY);
        e = &e->elements[0];
    }
    assert_int_equal(e->integer, 1);
    client_reply_free(r);

    at = 0;
    for (int i = 0; i < CLIENT_REPLY_DEPTH_MAX; i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at, "*1\r\n");
    at += (size_t)snprintf(text + at, sizeof(text) - at, ":1\r\n");
    expect_error(text, at, NULL, "nested deeper");
}

static void test_truncated(void **state)
{
    (void)state;
    const char *const whole[] = {
        "+OK\r\n", "-ERR wrong\r\n", ":12345\r\n", "$5\r\nhello\r\n", "$0\r\n\r\n",
        "$-1\r\n", "*-1\r\n", "*0\r\n", "*2\r\n$1\r\nx\r\n:7\r\n",
    };
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        check_prefixes_need_more(whole[i], strlen(whole[i]));
        client_reply_free(parse_whole(whole[i], strlen(whole[i])));
    }
}

/* Two replies back to back: each parse takes exactly one. */
static void test_pipelined(void **state)
{
    (void)state;
    const char two[] = ":1\r\n$3\r\nabc\r\n";
    struct client_reply *r = NULL;
    size_t consumed = 0;
    assert_int_equal(client_reply_parse(two, sizeof(two) - 1, NULL, &r, &consumed, NULL),
                     CLIENT_PARSE_COMPLETE);
    assert_int_equal(consumed, 4);
    assert_int_equal(r->integer, 1);
    client_reply_free(r);
    assert_int_equal(client_reply_parse(two + 4, sizeof(two) - 5, NULL, &r, &consumed, NULL),
                     CLIENT_PARSE_COMPLETE);
    assert_int_equal(consumed, sizeof(two) - 5);
    assert_string_equal(r->string, "abc");
    client_reply_free(r);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_error("?x\r\n", 4, NULL, "unknown reply type");
    expect_error("%1\r\n", 4, NULL, "unknown reply type"); /* RESP3 map: not RESP2 */
    expect_error(":\r\n", 3, NULL, "bad integer");
    expect_error(":12a\r\n", 6, NULL, "bad integer");
    expect_error(":+1\r\n", 5, NULL, "bad integer");
    expect_error(":99999999999999999999\r\n", 23, NULL, "bad integer");
    expect_error(":9223372036854775808\r\n", 22, NULL, "bad integer");
    expect_error("$-2\r\n", 5, NULL, "bad bulk length");
    expect_error("$x\r\n", 4, NULL, "bad bulk length");
    expect_error("$3\r\nabcd\r\n", 10, NULL, "not followed by CRLF");
    expect_error("*-2\r\n", 5, NULL, "bad array length");
    expect_error("*1x\r\n", 5, NULL, "bad array length");
    expect_error("+OK\n", 4, NULL, "bare LF");
    expect_error("+OK\rX\n", 6, NULL, "CR not followed by LF");
    expect_error("*2\r\n:1\r\n?\r\n", 11, NULL, "unknown reply type");
}

static void test_limits(void **state)
{
    (void)state;
    struct client_reply_limits limits;
    client_reply_limits_default(&limits);
    limits.bulk_bytes_max = 4;
    limits.elements_max = 3;
    limits.nodes_max = 5;
    limits.line_bytes_max = 16;
    limits.depth_max = 2;

    /* A huge length is rejected from its header alone: no payload needed, nothing allocated. */
    expect_error("$5\r\n", 4, &limits, "over the limit");
    expect_error("$9223372036854775807\r\n", 22, NULL, "over the limit");
    expect_error("*4\r\n", 4, &limits, "over the limit");
    expect_error("*2147483648\r\n", 13, NULL, "over the limit");
    /* Total elements over all arrays: 1 root + 3 + 2 = 6 > 5. */
    expect_error("*3\r\n*2\r\n:1\r\n:2\r\n", 16, &limits, "more than 5 elements");
    expect_error("*1\r\n*1\r\n:1\r\n", 12, &limits, "nested deeper than 2");
    /* Lines longer than the limit, with or without a terminator in sight. */
    expect_error("+0123456789abcdefghij\r\n", 23, &limits, "longer than 16");
    expect_error("+0123456789abcdefghij", 21, &limits, "longer than 16");

    struct client_reply *r = NULL;
    size_t consumed = 0;
    assert_int_equal(client_reply_parse("$4\r\nabcd\r\n", 10, &limits, &r, &consumed, NULL),
                     CLIENT_PARSE_COMPLETE);
    client_reply_free(r);
    /* Depth 2 with an empty array inside (an empty array adds no level); 4 nodes. */
    assert_int_equal(client_reply_parse("*3\r\n:1\r\n*0\r\n:3\r\n", 18, &limits, &r,
                                        &consumed, NULL),
                     CLIENT_PARSE_COMPLETE);
    assert_int_equal(r->count, 3);
    assert_int_equal(r->elements[1].type, CLIENT_REPLY_ARRAY);
    assert_int_equal(r->elements[1].count, 0);
    assert_int_equal(r->elements[2].integer, 3);
    client_reply_free(r);
    /* Within the line limit but not complete yet: need more, not an error. */
    assert_int_equal(client_reply_parse("+0123456789", 11, &limits, &r, &consumed, NULL),
                     CLIENT_PARSE_NEED_MORE);
}

/* Random bytes: the reader answers need-more, complete or error, and never reads past the end
 * (run under ASan via `make asan`). */
static void test_random_bytes(void **state)
{
    (void)state;
    const char alphabet[] = "+-:$*\r\n0123-1x";
    uint64_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 24);
        char *buf = malloc(len + 1);
        assert_non_null(buf);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[i] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
        }
        struct client_reply *r = NULL;
        size_t consumed = 0;
        int rc = client_reply_parse(buf, len, NULL, &r, &consumed, NULL);
        assert_true(rc == CLIENT_PARSE_NEED_MORE || rc == CLIENT_PARSE_COMPLETE ||
                    rc == CLIENT_PARSE_ERROR);
        if (rc == CLIENT_PARSE_COMPLETE) {
            assert_true(consumed >= 3 && consumed <= len);
            client_reply_free(r);
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),   cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_depth_limit), cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_pipelined), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),    cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
