/* test_kv_glob.c — the Redis-style glob matcher used by SCAN MATCH. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "storage/kv_glob.h"

static bool match(const char *pattern, const char *string)
{
    return kv_glob_match((const uint8_t *)pattern, strlen(pattern), (const uint8_t *)string,
                         strlen(string));
}

static void test_glob_literals_and_wildcards(void **state)
{
    (void)state;
    assert_true(match("", ""));
    assert_false(match("", "a"));
    assert_true(match("abc", "abc"));
    assert_false(match("abc", "abd"));
    assert_false(match("abc", "ab"));
    assert_false(match("ab", "abc"));
    assert_true(match("*", ""));
    assert_true(match("*", "anything"));
    assert_true(match("**", "x"));
    assert_true(match("user:*", "user:42"));
    assert_false(match("user:*", "users:42"));
    assert_true(match("*:42", "user:42"));
    assert_true(match("a*b*c", "axxbyyc"));
    assert_true(match("a*b*c", "abc"));
    assert_false(match("a*b*c", "axxbyy"));
    assert_true(match("*aab", "aaaab")); /* needs backtracking past a partial match */
    assert_true(match("h?llo", "hello"));
    assert_false(match("h?llo", "hllo"));
    assert_true(match("?", "x"));
    assert_false(match("?", ""));
}

static void test_glob_classes(void **state)
{
    (void)state;
    assert_true(match("h[ae]llo", "hallo"));
    assert_true(match("h[ae]llo", "hello"));
    assert_false(match("h[ae]llo", "hillo"));
    assert_true(match("h[^e]llo", "hallo"));
    assert_false(match("h[^e]llo", "hello"));
    assert_true(match("h[a-b]llo", "hbllo"));
    assert_false(match("h[a-b]llo", "hcllo"));
    assert_true(match("h[b-a]llo", "hallo")); /* reversed range, as Redis */
    assert_true(match("[0-9][0-9]", "42"));
    assert_false(match("[0-9][0-9]", "4x"));
    assert_false(match("[]", "a"));       /* empty class matches nothing */
    assert_true(match("[abc", "b"));      /* unterminated class runs to the end */
    assert_true(match("[\\]]", "]"));     /* escaped ] inside a class */
    assert_true(match("[\\-]", "-"));
    assert_true(match("*[xy]", "aaay"));
}

static void test_glob_escapes(void **state)
{
    (void)state;
    assert_true(match("a\\*b", "a*b"));
    assert_false(match("a\\*b", "axb"));
    assert_true(match("a\\?", "a?"));
    assert_false(match("a\\?", "ab"));
    assert_true(match("\\[x\\]", "[x]"));
    assert_true(match("a\\", "a\\")); /* trailing backslash is literal */
    assert_false(match("a\\", "a"));
}

static void test_glob_binary_and_long(void **state)
{
    (void)state;
    const uint8_t key[] = {'k', 0, 0xff, 'z'};
    const uint8_t pattern[] = {'k', '?', 0xff, '*'};
    assert_true(kv_glob_match(pattern, sizeof pattern, key, sizeof key));
    /* A pathological pattern on a long key stays polynomial and terminates. */
    uint8_t long_key[4096];
    memset(long_key, 'a', sizeof long_key);
    const char *hard = "*a*a*a*a*a*a*a*a*b";
    assert_false(kv_glob_match((const uint8_t *)hard, strlen(hard), long_key, sizeof long_key));
    long_key[4095] = 'b';
    assert_true(kv_glob_match((const uint8_t *)hard, strlen(hard), long_key, sizeof long_key));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_literals_and_wildcards),
        cmocka_unit_test(test_glob_classes),
        cmocka_unit_test(test_glob_escapes),
        cmocka_unit_test(test_glob_binary_and_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
