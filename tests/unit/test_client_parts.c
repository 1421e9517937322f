/*
 * test_client_parts.c — the pieces of the chorus client around the reply reader: the latency
 * histogram's buckets and quantiles, history lines (read back by chorus-lincheck's own parser),
 * endpoint lists, and the INFO chorus parser of `chorus status`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/conn.h"
#include "client/histogram.h"
#include "client/history.h"
#include "client/status.h"
#include "lincheck/lincheck.h"

/* Every bucket's range is contiguous with the next, and each value lands in the bucket whose
 * range holds it, within 1/32 of the value. */
static void test_histogram_buckets(void **state)
{
    (void)state;
    for (uint32_t b = 0; b + 1 < HISTOGRAM_BUCKETS; b++) {
        assert_true(histogram_bucket_low(b) <= histogram_bucket_high(b));
        assert_true(histogram_bucket_high(b) + 1 == histogram_bucket_low(b + 1));
    }
    assert_int_equal(histogram_bucket_high(HISTOGRAM_BUCKETS - 1), UINT64_MAX);
    const uint64_t values[] = {0, 1, 31, 32, 33, 63, 64, 65, 1000, 123456789, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint32_t b = histogram_bucket_of(values[i]);
        assert_true(histogram_bucket_low(b) <= values[i] && values[i] <= histogram_bucket_high(b));
        assert_true(histogram_bucket_high(b) - histogram_bucket_low(b) <= values[i] / 32);
    }
}

static void test_histogram_quantiles(void **state)
{
    (void)state;
    struct histogram *h = malloc(sizeof(*h));
    struct histogram *other = malloc(sizeof(*other));
    assert_non_null(h);
    assert_non_null(other);
    histogram_init(h);
    assert_int_equal(histogram_quantile(h, 0.5), 0);
    for (uint64_t v = 1; v <= 1000; v++)
        histogram_record(h, v * 1000); /* 1..1000 us in ns */
    uint64_t p50 = histogram_quantile(h, 0.5), p99 = histogram_quantile(h, 0.99);
    assert_true(p50 >= 500000 && p50 <= 500000 + 500000 / 32);
    assert_true(p99 >= 990000 && p99 <= 990000 + 990000 / 32);
    assert_int_equal(histogram_quantile(h, 1.0), 1000000); /* clamped to the exact max */
    assert_int_equal(h->min, 1000);
    assert_true(histogram_mean(h) > 500499 && histogram_mean(h) < 500501);

    histogram_init(other);
    histogram_record(other, 5000000000ULL);
    histogram_merge(h, other);
    assert_int_equal(h->total, 1001);
    assert_int_equal(h->max, 5000000000ULL);
    assert_int_equal(histogram_quantile(h, 1.0), 5000000000ULL);
    free(h);
    free(other);
}

/* Lines written for every op kind parse back, field for field, with lincheck's parser. */
static void test_history_round_trip(void **state)
{
    (void)state;
    const struct history_entry entries[] = {
        {.client = 1, .kind = HISTORY_PUT, .key = "k1", .key_len = 2, .value = "v\"1\\\n",
         .value_len = 5, .call_ns = 100, .returned = true, .return_ns = 200},
        {.client = 2, .kind = HISTORY_GET, .key = "k1", .key_len = 2, .call_ns = 150,
         .returned = true, .return_ns = 250, .output_value = "v\"1\\\n", .output_len = 5},
        {.client = 3, .kind = HISTORY_GET, .key = "k2", .key_len = 2, .call_ns = 10,
         .returned = true, .return_ns = 20, .output_null = true},
        {.client = 4, .kind = HISTORY_CAS, .key = "k1", .key_len = 2, .expect = "v\"1\\\n",
         .expect_len = 5, .value = "v2", .value_len = 2, .call_ns = 300, .returned = true,
         .return_ns = 400, .output_ok = true},
        {.client = 5, .kind = HISTORY_CAS, .key = "k1", .key_len = 2, .expect = "zz",
         .expect_len = 2, .value = "v3", .value_len = 2, .call_ns = 500, .returned = true,
         .return_ns = 600, .output_ok = false},
        {.client = 6, .kind = HISTORY_DEL, .key = "k1", .key_len = 2, .call_ns = 700,
         .returned = true, .return_ns = 800, .output_int = 1},
        {.client = 7, .kind = HISTORY_INCR, .key = "c0", .key_len = 2, .call_ns = 700,
         .returned = true, .return_ns = 800, .output_int = 1},
        {.client = 8, .kind = HISTORY_INCR, .key = "c0", .key_len = 2, .call_ns = 900},
        {.client = 9, .kind = HISTORY_PUT, .key = "k1", .key_len = 2, .value = "v4",
         .value_len = 2, .call_ns = 900},
    };
    size_t count = sizeof(entries) / sizeof(entries[0]);
    char text[4096], line[512];
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = history_format(&entries[i], line, sizeof(line));
        assert_true(n > 0 && line[n - 1] == '\n');
        memcpy(text + at, line, n);
        at += n;
    }
    struct lincheck_history *h = lincheck_history_create();
    assert_non_null(h);
    char error[256];
    if (lincheck_history_parse_jsonl(h, text, at, error, sizeof(error)) != 0)
        fail_msg("%s\n%.*s", error, (int)at, text);
    assert_int_equal(lincheck_history_count(h), count);
    const struct lincheck_op *op = lincheck_history_op(h, 0);
    assert_int_equal(op->kind, LINCHECK_PUT);
    assert_string_equal(op->value, "v\"1\\\n");
    op = lincheck_history_op(h, 1);
    assert_string_equal(op->output_value, "v\"1\\\n");
    assert_true(lincheck_history_op(h, 2)->output_null);
    op = lincheck_history_op(h, 3);
    assert_string_equal(op->expect, "v\"1\\\n");
    assert_true(op->output_ok);
    assert_false(lincheck_history_op(h, 4)->output_ok);
    assert_int_equal(lincheck_history_op(h, 5)->output_int, 1);
    assert_int_equal(lincheck_history_op(h, 6)->output_int, 1);
    assert_false(lincheck_history_op(h, 7)->returned);
    assert_false(lincheck_history_op(h, 8)->returned);
    struct lincheck_result result;
    assert_int_equal(lincheck_check(h, NULL, &result), LINCHECK_OK);
    lincheck_history_destroy(h);

    /* Too small a buffer: 0, never a cut line. */
    assert_int_equal(history_format(&entries[0], line, 20), 0);
}

static void test_endpoints(void **state)
{
    (void)state;
    struct client_endpoint e[4];
    uint32_t count = 0;
    assert_int_equal(client_endpoint_parse("127.0.0.1:7001", &e[0]), 0);
    assert_string_equal(e[0].host, "127.0.0.1");
    assert_int_equal(e[0].port, 7001);
    assert_int_equal(client_endpoint_parse("[::1]:80", &e[0]), 0);
    assert_string_equal(e[0].host, "::1");
    char text[CLIENT_ADDRESS_BYTES_MAX];
    client_endpoint_format(&e[0], text);
    assert_string_equal(text, "[::1]:80");
    assert_int_equal(client_endpoint_parse("host", &e[0]), -1);
    assert_int_equal(client_endpoint_parse("host:", &e[0]), -1);
    assert_int_equal(client_endpoint_parse(":80", &e[0]), -1);
    assert_int_equal(client_endpoint_parse("h:0", &e[0]), -1);
    assert_int_equal(client_endpoint_parse("h:65536", &e[0]), -1);
    assert_int_equal(client_endpoint_parse("h:12x", &e[0]), -1);
    assert_int_equal(client_endpoint_list_parse("a:1,b:2,c:3", e, 4, &count), 0);
    assert_int_equal(count, 3);
    assert_string_equal(e[2].host, "c");
    assert_int_equal(client_endpoint_list_parse("a:1,,b:2", e, 4, &count), -1);
    assert_int_equal(client_endpoint_list_parse("a:1,b:2,", e, 4, &count), -1);
    assert_int_equal(client_endpoint_list_parse("a:1,b:2,c:3,d:4,e:5", e, 4, &count), -1);
}

static void test_status_info(void **state)
{
    (void)state;
    const char info[] = "# Chorus\r\nrole:follower\r\nnode_id:2\r\nleader_id:1\r\nterm:7\r\n"
                        "commit_index:120\r\napplied_index:118\r\n"
                        "members:1=127.0.0.1:8001,2=127.0.0.1:8002,3=127.0.0.1:8003\r\n\r\n";
    struct status_node node;
    memset(&node, 0, sizeof(node));
    assert_int_equal(status_parse_info(info, sizeof(info) - 1, &node), 0);
    assert_string_equal(node.role, "follower");
    assert_int_equal(node.node_id, 2);
    assert_int_equal(node.leader_id, 1);
    assert_int_equal(node.term, 7);
    assert_int_equal(node.commit_index, 120);
    assert_int_equal(node.applied_index, 118);
    assert_int_equal(node.member_count, 3);
    assert_int_equal(node.members[2].id, 3);
    assert_string_equal(node.members[2].peer_address, "127.0.0.1:8003");
    memset(&node, 0, sizeof(node));
    assert_int_equal(status_parse_info("# Server\r\nredis_version:7\r\n", 27, &node), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_buckets), cmocka_unit_test(test_histogram_quantiles),
        cmocka_unit_test(test_history_round_trip), cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_status_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
