/*
 * test_fields.c — reading the "key=value,key=value" lists of CLUSTER MEMBERS and INFO shards
 * (src/client/fields.h): whole keys only, a value cut at its comma or its line's end, absent
 * keys, values cut short to the buffer, numbers strict about their digits and range, and a
 * list that stops at its line's end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/fields.h"

static void finds_whole_keys(void **state)
{
    (void)state;
    char out[32];
    const char *list = "shard=3,from=1,to=4,state=sending-snapshot,snapshot_total=9";
    assert_true(client_fields_get(list, "shard", out, sizeof(out)));
    assert_string_equal(out, "3");
    assert_true(client_fields_get(list, "to", out, sizeof(out)));
    assert_string_equal(out, "4"); /* not snapshot_total's "to"tal */
    assert_true(client_fields_get(list, "state", out, sizeof(out)));
    assert_string_equal(out, "sending-snapshot");
    assert_true(client_fields_get(list, "snapshot_total", out, sizeof(out)));
    assert_string_equal(out, "9");
    assert_false(client_fields_get(list, "total", out, sizeof(out)));
    assert_string_equal(out, "");
    assert_false(client_fields_get(list, "sha", out, sizeof(out)));
    assert_false(client_fields_get("", "shard", out, sizeof(out)));
    assert_true(client_fields_get("role=,x=1", "role", out, sizeof(out)));
    assert_string_equal(out, "");
}

static void stops_at_line_end(void **state)
{
    (void)state;
    char out[32];
    assert_true(client_fields_get("a=1,b=22\r\nc=3", "b", out, sizeof(out)));
    assert_string_equal(out, "22");
    assert_false(client_fields_get("a=1,b=2\r\nc=3", "c", out, sizeof(out)));
    assert_false(client_fields_get("a=1\nc=3,d=4", "d", out, sizeof(out)));
    assert_string_equal(client_fields_line("shard=1,to=2\r\nnext", out, sizeof(out)),
                        "shard=1,to=2");
    assert_string_equal(client_fields_line("", out, sizeof(out)), "");
}

static void cuts_to_the_buffer(void **state)
{
    (void)state;
    char out[4];
    assert_true(client_fields_get("client=127.0.0.1:7001,role=voter", "client", out,
                                  sizeof(out)));
    assert_string_equal(out, "127");
    assert_string_equal(client_fields_line("abcdef\n", out, sizeof(out)), "abc");
    char one[1];
    assert_true(client_fields_get("k=v", "k", one, sizeof(one)));
    assert_string_equal(one, "");
}

static void reads_numbers(void **state)
{
    (void)state;
    uint64_t v64 = 7;
    uint32_t v32 = 7;
    assert_true(client_fields_u64("rate=18446744073709551615", "rate", &v64));
    assert_true(v64 == UINT64_MAX);
    assert_true(client_fields_u32("shard=4294967295", "shard", &v32));
    assert_true(v32 == UINT32_MAX);
    assert_false(client_fields_u32("shard=4294967296", "shard", &v32));
    assert_false(client_fields_u32("shard=x", "shard", &v32));
    assert_false(client_fields_u32("shard=-1", "shard", &v32));
    assert_false(client_fields_u32("shard= 1", "shard", &v32));
    assert_false(client_fields_u32("shard=1x,to=2", "shard", &v32));
    assert_false(client_fields_u32("shard=", "shard", &v32));
    assert_false(client_fields_u64("to=2", "shard", &v64));
    assert_true(client_fields_u32("from=12,to=2", "to", &v32));
    assert_true(v32 == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_whole_keys),
        cmocka_unit_test(stops_at_line_end),
        cmocka_unit_test(cuts_to_the_buffer),
        cmocka_unit_test(reads_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
