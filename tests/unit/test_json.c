/* test_json.c — the bounded JSON writer: exact output, commas and nesting, string escaping
 * (control characters, quotes, invalid UTF-8), numbers, and the bound on its buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "metrics/json.h"

enum { BUF_BYTES = 4096 };

/* The writer's text, NUL-terminated for comparison. */
static const char *text_of(const struct json *w)
{
    static char copy[BUF_BYTES + 1];
    long len = json_finish(w);
    assert_true(len >= 0);
    memcpy(copy, w->buf, (size_t)len);
    copy[len] = '\0';
    return copy;
}

/* The document the structure and bound tests write: every kind of value, nested. */
static void write_sample(struct json *w)
{
    json_object_begin(w);
    json_key_u64(w, "term", 7);
    json_key_string(w, "role", "leader");
    json_key(w, "groups");
    json_array_begin(w);
    for (uint64_t i = 0; i < 3; i++) {
        json_object_begin(w);
        json_key_u64(w, "id", i);
        json_key_bool(w, "quiet", i == 1);
        json_object_end(w);
    }
    json_array_end(w);
    json_key(w, "empty");
    json_array_begin(w);
    json_array_end(w);
    json_key(w, "none");
    json_object_begin(w);
    json_object_end(w);
    json_key(w, "nothing");
    json_null(w);
    json_key_double(w, "rate", 2.5);
    json_object_end(w);
}

static const char SAMPLE[] =
    "{\"term\":7,\"role\":\"leader\",\"groups\":[{\"id\":0,\"quiet\":false},"
    "{\"id\":1,\"quiet\":true},{\"id\":2,\"quiet\":false}],\"empty\":[],\"none\":{},"
    "\"nothing\":null,\"rate\":2.5}";

static void test_structure(void **state)
{
    (void)state;
    char buf[BUF_BYTES];
    struct json w;
    json_init(&w, buf, sizeof(buf));
    write_sample(&w);
    assert_string_equal(text_of(&w), SAMPLE);
}

/* A top-level value need not be an object; arrays of arrays take commas at each level. */
static void test_top_level_and_nesting(void **state)
{
    (void)state;
    char buf[BUF_BYTES];
    struct json w;
    json_init(&w, buf, sizeof(buf));
    json_string(&w, "alone");
    assert_string_equal(text_of(&w), "\"alone\"");

    json_init(&w, buf, sizeof(buf));
    json_array_begin(&w);
    for (int i = 0; i < 2; i++) {
        json_array_begin(&w);
        json_i64(&w, -i);
        json_bool(&w, true);
        json_array_end(&w);
    }
    json_array_end(&w);
    assert_string_equal(text_of(&w), "[[0,true],[-1,true]]");

    /* JSON_DEPTH_MAX containers open at once are allowed. */
    json_init(&w, buf, sizeof(buf));
    for (int i = 0; i < JSON_DEPTH_MAX; i++)
        json_array_begin(&w);
    for (int i = 0; i < JSON_DEPTH_MAX; i++)
        json_array_end(&w);
    assert_int_equal(json_finish(&w), 2 * JSON_DEPTH_MAX);
}

static void test_numbers(void **state)
{
    (void)state;
    char buf[BUF_BYTES];
    struct json w;
    json_init(&w, buf, sizeof(buf));
    json_array_begin(&w);
    json_u64(&w, UINT64_MAX);
    json_i64(&w, INT64_MIN);
    json_double(&w, 0.1);
    json_double(&w, -1e300);
    json_double(&w, 1e21);
    json_double(&w, NAN);      /* JSON has no NaN: null */
    json_double(&w, INFINITY); /* nor infinity */
    json_double(&w, 3.0);
    json_array_end(&w);
    assert_string_equal(text_of(&w), "[18446744073709551615,-9223372036854775808,0.1,-1e+300,"
                                     "1e+21,null,null,3]");
}

static void test_string_escapes(void **state)
{
    (void)state;
    char buf[BUF_BYTES];
    struct json w;
    json_init(&w, buf, sizeof(buf));
    json_array_begin(&w);
    json_string(&w, "q\"b\\s/n\nr\rt\tb\bf\f");
    json_string_len(&w, "\x01\x1f\x00z", 4); /* a NUL in a counted string is escaped too */
    json_string(&w, "");
    json_array_end(&w);
    assert_string_equal(text_of(&w), "[\"q\\\"b\\\\s/n\\nr\\rt\\tb\\bf\\f\","
                                     "\"\\u0001\\u001f\\u0000z\",\"\"]");

    /* Keys are escaped like values. */
    json_init(&w, buf, sizeof(buf));
    json_object_begin(&w);
    json_key_u64(&w, "a\"b", 1);
    json_object_end(&w);
    assert_string_equal(text_of(&w), "{\"a\\\"b\":1}");
}

/* Valid UTF-8 passes as it is; every byte that is not part of a valid sequence becomes
 * U+FFFD, so the output is valid UTF-8 whatever the input. */
static void test_utf8(void **state)
{
    (void)state;
    char buf[BUF_BYTES];
    struct json w;
    json_init(&w, buf, sizeof(buf));
    json_array_begin(&w);
    json_string(&w, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* été € 😀 */
    json_string(&w, "\x80");             /* a stray continuation byte */
    json_string(&w, "\xc0\xaf");         /* an overlong '/' */
    json_string(&w, "\xed\xa0\x80");     /* a UTF-16 surrogate */
    json_string(&w, "\xf4\x90\x80\x80"); /* above U+10FFFF */
    json_string(&w, "a\xe2\x82");        /* cut short at the end */
    json_string(&w, "\xff!");
    json_array_end(&w);
    assert_string_equal(text_of(&w),
                        "[\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"\\ufffd\","
                        "\"\\ufffd\\ufffd\",\"\\ufffd\\ufffd\\ufffd\","
                        "\"\\ufffd\\ufffd\\ufffd\\ufffd\",\"a\\ufffd\\ufffd\",\"\\ufffd!\"]");
}

/* For every buffer size short of the whole text: the writer reports the overflow and never
 * writes past its buffer (the canary after it is untouched). At the exact size it fits. */
static void test_bound(void **state)
{
    (void)state;
    size_t full = strlen(SAMPLE);
    char buf[BUF_BYTES];
    for (size_t cap = 0; cap <= full; cap++) {
        memset(buf, '#', sizeof(buf));
        struct json w;
        json_init(&w, buf, cap);
        write_sample(&w);
        if (cap < full) {
            assert_int_equal(json_finish(&w), -1);
        } else {
            assert_int_equal(json_finish(&w), (long)full);
            assert_memory_equal(buf, SAMPLE, full);
        }
        for (size_t i = cap; i < sizeof(buf); i++)
            assert_int_equal(buf[i], '#');
    }
}

/* An overflow is sticky: a later, smaller append does not slip in after a refused one. */
static void test_overflow_sticky(void **state)
{
    (void)state;
    char buf[8];
    struct json w;
    json_init(&w, buf, sizeof(buf));
    json_array_begin(&w);
    json_string(&w, "too long for eight");
    json_u64(&w, 1);
    json_array_end(&w);
    assert_true(w.overflow);
    assert_int_equal(json_finish(&w), -1);
    assert_int_equal(w.len, 2); /* "[\"": the string's first run did not fit, nor anything after */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),      cmocka_unit_test(test_top_level_and_nesting),
        cmocka_unit_test(test_numbers),        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_utf8),           cmocka_unit_test(test_bound),
        cmocka_unit_test(test_overflow_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
