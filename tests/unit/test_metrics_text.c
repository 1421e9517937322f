/* test_metrics_text.c — the Prometheus text format writer: exact output, escaping, histograms,
 * and the bound on its buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "metrics/metrics_text.h"

enum { BUF_BYTES = 4096 };

/* The writer's text so far, NUL-terminated for comparison. */
static const char *text_of(const struct metrics_text *w)
{
    static char copy[BUF_BYTES + 1];
    long len = metrics_text_finish(w);
    assert_true(len >= 0);
    memcpy(copy, w->buf, (size_t)len);
    copy[len] = '\0';
    return copy;
}

static void test_counter_and_gauge(void **state)
{
    (void)state;
    char buf[BUF_BYTES];
    struct metrics_text w;
    metrics_text_init(&w, buf, sizeof(buf));
    metrics_text_header(&w, "chorus_commands_processed_total", METRICS_COUNTER, "Commands run.");
    metrics_text_u64(&w, "chorus_commands_processed_total", NULL, 0, 18446744073709551615ull);
    struct metrics_label labels[2] = {{"group", "3"}, {"role", "leader"}};
    metrics_text_header(&w, "chorus_group_role", METRICS_GAUGE, "Role.");
    metrics_text_u64(&w, "chorus_group_role", labels, 2, 1);
    metrics_text_double(&w, "chorus_ratio", NULL, 0, 0.25);
    assert_string_equal(text_of(&w),
                        "# HELP chorus_commands_processed_total Commands run.\n"
                        "# TYPE chorus_commands_processed_total counter\n"
                        "chorus_commands_processed_total 18446744073709551615\n"
                        "# HELP chorus_group_role Role.\n"
                        "# TYPE chorus_group_role gauge\n"
                        "chorus_group_role{group=\"3\",role=\"leader\"} 1\n"
                        "chorus_ratio 0.25\n");
}

static void test_escaping(void **state)
{
    (void)state;
    char buf[BUF_BYTES];
    struct metrics_text w;
    metrics_text_init(&w, buf, sizeof(buf));
    metrics_text_header(&w, "m", METRICS_GAUGE, "a \"quoted\" back\\slash\nnewline");
    struct metrics_label label = {"path", "C:\\dir\n\"x\""};
    metrics_text_u64(&w, "m", &label, 1, 7);
    assert_string_equal(text_of(&w),
                        "# HELP m a \"quoted\" back\\\\slash\\nnewline\n"
                        "# TYPE m gauge\n"
                        "m{path=\"C:\\\\dir\\n\\\"x\\\"\"} 7\n");
}

static void test_doubles(void **state)
{
    (void)state;
    char buf[BUF_BYTES];
    struct metrics_text w;
    metrics_text_init(&w, buf, sizeof(buf));
    metrics_text_double(&w, "a", NULL, 0, 0.001);
    metrics_text_double(&w, "b", NULL, 0, 1e-5);
    metrics_text_double(&w, "c", NULL, 0, INFINITY);
    metrics_text_double(&w, "d", NULL, 0, -INFINITY);
    metrics_text_double(&w, "e", NULL, 0, NAN);
    metrics_text_double(&w, "f", NULL, 0, 0.1 + 0.2); /* needs all 17 digits */
    metrics_text_double(&w, "g", NULL, 0, 0);
    assert_string_equal(text_of(&w), "a 0.001\nb 1e-05\nc +Inf\nd -Inf\ne NaN\n"
                                     "f 0.30000000000000004\ng 0\n");
}

static void test_histogram(void **state)
{
    (void)state;
    static const double bounds[] = {0.001, 0.01, 0.1};
    struct metrics_histogram h;
    metrics_histogram_init(&h, bounds, 3);
    metrics_histogram_observe(&h, 0.0005);
    metrics_histogram_observe(&h, 0.001); /* on a bound: that bucket (le is <=) */
    metrics_histogram_observe(&h, 0.05);
    metrics_histogram_observe(&h, 3.0);   /* above every bound: +Inf only */
    assert_int_equal(h.count, 4);
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 0);
    assert_int_equal(h.counts[2], 1);
    assert_int_equal(h.counts[3], 1);
    char buf[BUF_BYTES];
    struct metrics_text w;
    metrics_text_init(&w, buf, sizeof(buf));
    struct metrics_label label = {"disk", "wal"};
    metrics_text_header(&w, "sync_seconds", METRICS_HISTOGRAM, "Sync latency.");
    metrics_text_histogram(&w, "sync_seconds", &label, 1, &h);
    assert_string_equal(text_of(&w), "# HELP sync_seconds Sync latency.\n"
                                     "# TYPE sync_seconds histogram\n"
                                     "sync_seconds_bucket{disk=\"wal\",le=\"0.001\"} 2\n"
                                     "sync_seconds_bucket{disk=\"wal\",le=\"0.01\"} 2\n"
                                     "sync_seconds_bucket{disk=\"wal\",le=\"0.1\"} 3\n"
                                     "sync_seconds_bucket{disk=\"wal\",le=\"+Inf\"} 4\n"
                                     "sync_seconds_sum{disk=\"wal\"} 3.0515\n"
                                     "sync_seconds_count{disk=\"wal\"} 4\n");
}

static void test_histogram_without_labels_or_observations(void **state)
{
    (void)state;
    static const double bounds[] = {1};
    struct metrics_histogram h;
    metrics_histogram_init(&h, bounds, 1);
    char buf[BUF_BYTES];
    struct metrics_text w;
    metrics_text_init(&w, buf, sizeof(buf));
    metrics_text_histogram(&w, "x", NULL, 0, &h);
    assert_string_equal(text_of(&w), "x_bucket{le=\"1\"} 0\nx_bucket{le=\"+Inf\"} 0\n"
                                     "x_sum 0\nx_count 0\n");
}

/* Writes the same lines into a buffer of `cap` bytes followed by guard bytes; returns what
 * finish said, and checks that nothing past cap was touched. */
static long write_bounded(size_t cap)
{
    enum { GUARD = 64 };
    char buf[256 + GUARD];
    assert_true(cap <= 256);
    memset(buf, 0x5a, sizeof(buf));
    struct metrics_text w;
    metrics_text_init(&w, buf, cap);
    struct metrics_label label = {"group", "12"};
    metrics_text_header(&w, "chorus_group_term", METRICS_GAUGE, "Term.");
    metrics_text_u64(&w, "chorus_group_term", &label, 1, 42);
    for (size_t i = cap; i < sizeof(buf); i++)
        assert_int_equal((unsigned char)buf[i], 0x5a);
    assert_true(w.len <= cap);
    return metrics_text_finish(&w);
}

static void test_bounded_buffer(void **state)
{
    (void)state;
    const char *full = "# HELP chorus_group_term Term.\n# TYPE chorus_group_term gauge\n"
                       "chorus_group_term{group=\"12\"} 42\n";
    size_t need = strlen(full);
    assert_int_equal(write_bounded(need), (long)need); /* an exact fit is fine */
    for (size_t cap = 0; cap < need; cap++)
        assert_int_equal(write_bounded(cap), -1);
    assert_int_equal(write_bounded(256), (long)need);
}

static void test_overflow_is_sticky(void **state)
{
    (void)state;
    char buf[16];
    struct metrics_text w;
    metrics_text_init(&w, buf, sizeof(buf));
    metrics_text_u64(&w, "a_long_metric_name", NULL, 0, 1); /* does not fit */
    size_t len = w.len;
    metrics_text_u64(&w, "b", NULL, 0, 1);                  /* would fit, but must not land */
    assert_int_equal(w.len, len);
    assert_int_equal(metrics_text_finish(&w), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_histogram_without_labels_or_observations),
        cmocka_unit_test(test_bounded_buffer),
        cmocka_unit_test(test_overflow_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
