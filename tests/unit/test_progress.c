/*
 * test_progress.c — a transfer's progress as `chorus cluster status` shows it
 * (src/cluster/progress.h): the rate over the recent window of a steady transfer, of one whose
 * speed changed half way (the window follows, the whole-transfer average would not), of one that
 * stalled (falls to 0); too early to tell; the time left by bytes and rate, and by the fraction
 * done; the words for bytes and durations, and the bar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/progress.h"

/* Notes every 10 ms from `from` to `to` (exclusive) at rate bytes per second. */
static uint64_t run(struct progress_window *w, uint64_t from, uint64_t to, uint64_t bytes,
                    uint64_t rate)
{
    for (uint64_t t = from; t < to; t += 10) {
        bytes += rate / 100;
        progress_window_note(w, t, bytes);
    }
    return bytes;
}

static void steady_rate(void **state)
{
    (void)state;
    struct progress_window w;
    progress_window_reset(&w);
    assert_int_equal(progress_window_rate_bytes_per_s(&w, 0), 0);
    progress_window_note(&w, 1000, 0);
    run(&w, 1000, 11000, 0, 200000);
    uint64_t rate = progress_window_rate_bytes_per_s(&w, 11000);
    assert_in_range(rate, 196000, 204000);
}

static void too_early_to_tell(void **state)
{
    (void)state;
    struct progress_window w;
    progress_window_reset(&w);
    progress_window_note(&w, 500, 0);
    progress_window_note(&w, 600, 100000);
    assert_int_equal(progress_window_rate_bytes_per_s(&w, 650), 0);
    assert_int_not_equal(progress_window_rate_bytes_per_s(&w, 800), 0);
}

static void follows_a_change_of_speed(void **state)
{
    (void)state;
    struct progress_window w;
    progress_window_reset(&w);
    progress_window_note(&w, 0, 0);
    uint64_t bytes = run(&w, 0, 20000, 0, 1000000);
    bytes = run(&w, 20000, 30000, bytes, 100000);
    /* The average over 30 s would be 700,000 B/s: the window says 100,000. */
    assert_in_range(progress_window_rate_bytes_per_s(&w, 30000), 95000, 110000);
}

static void stalled_falls_to_zero(void **state)
{
    (void)state;
    struct progress_window w;
    progress_window_reset(&w);
    progress_window_note(&w, 0, 0);
    run(&w, 0, 5000, 0, 500000);
    assert_true(progress_window_rate_bytes_per_s(&w, 5000) > 400000);
    assert_true(progress_window_rate_bytes_per_s(&w, 7000) < 300000);
    assert_int_equal(progress_window_rate_bytes_per_s(&w, 9600), 0);
    /* Bytes never go back, nor does the clock. */
    progress_window_note(&w, 9700, 10);
    assert_int_equal(w.latest_bytes, 2500000);
    progress_window_note(&w, 100, 2500000);
    assert_int_equal(w.latest_ms, 9700);
}

static void eta(void **state)
{
    (void)state;
    assert_int_equal(progress_eta_ms(0, 0, 1000), -1);          /* total unknown */
    assert_int_equal(progress_eta_ms(100, 1000, 0), -1);        /* no rate yet */
    assert_int_equal(progress_eta_ms(1000, 1000, 0), 0);        /* done */
    assert_int_equal(progress_eta_ms(250000, 1250000, 250000), 4000);
    assert_int_equal(progress_eta_ms(0, 1, 3), 334);            /* rounded up */
    assert_int_equal(progress_eta_by_fraction_ms(10000, 0), -1);
    assert_int_equal(progress_eta_by_fraction_ms(10000, 250000), 30000);
    assert_int_equal(progress_eta_by_fraction_ms(10000, 500000), 10000);
    assert_int_equal(progress_eta_by_fraction_ms(10000, 1000000), 0);
}

static void words(void **state)
{
    (void)state;
    char text[PROGRESS_BYTES_TEXT_MAX];
    progress_format_bytes(0, text);
    assert_string_equal(text, "0 B");
    progress_format_bytes(1023, text);
    assert_string_equal(text, "1023 B");
    progress_format_bytes(1536, text);
    assert_string_equal(text, "1.5 KiB");
    progress_format_bytes(1048575, text);
    assert_string_equal(text, "1023.9 KiB");
    progress_format_bytes(12u << 20, text);
    assert_string_equal(text, "12.0 MiB");
    progress_format_bytes(UINT64_MAX / 2048, text); /* large: TiB, no overflow */
    assert_non_null(strstr(text, "TiB"));
    char d[PROGRESS_DURATION_TEXT_MAX];
    progress_format_duration(-1, d);
    assert_string_equal(d, "?");
    progress_format_duration(0, d);
    assert_string_equal(d, "0 s");
    progress_format_duration(1, d);
    assert_string_equal(d, "1 s");
    progress_format_duration(185000, d);
    assert_string_equal(d, "3 min 05 s");
    progress_format_duration(7800000, d);
    assert_string_equal(d, "2 h 10 min");
    char bar[16];
    progress_format_bar(3, 8, 8, bar, sizeof(bar));
    assert_string_equal(bar, "[###.....]");
    progress_format_bar(9, 8, 4, bar, sizeof(bar));
    assert_string_equal(bar, "[####]");
    progress_format_bar(0, 0, 4, bar, sizeof(bar));
    assert_string_equal(bar, "[....]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steady_rate),
        cmocka_unit_test(too_early_to_tell),
        cmocka_unit_test(follows_a_change_of_speed),
        cmocka_unit_test(stalled_falls_to_zero),
        cmocka_unit_test(eta),
        cmocka_unit_test(words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
