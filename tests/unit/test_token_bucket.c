/*
 * test_token_bucket.c — the token bucket of --snapshot-bandwidth (src/net/token_bucket.h): a
 * full bucket spends its burst at once and no more; tokens accrue at the rate, exactly, and
 * never beyond the burst; the wait names the millisecond the tokens are there; over a long run
 * of chunks the bytes sent follow the rate; unlimited takes everything; a clock that goes back
 * accrues nothing; a long idle time does not overflow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "net/token_bucket.h"

static void burst_then_empty(void **state)
{
    (void)state;
    struct token_bucket b;
    token_bucket_init(&b, 1000, 500, 100);
    assert_int_equal(token_bucket_available_bytes(&b, 100), 500);
    assert_true(token_bucket_take(&b, 300, 100));
    assert_true(token_bucket_take(&b, 200, 100));
    assert_false(token_bucket_take(&b, 1, 100));
    assert_false(token_bucket_take(&b, 501, 100000)); /* above the burst: never */
}

static void accrues_at_the_rate_up_to_the_burst(void **state)
{
    (void)state;
    struct token_bucket b;
    token_bucket_init(&b, 1000, 500, 0); /* 1 byte per ms */
    assert_true(token_bucket_take(&b, 500, 0));
    assert_int_equal(token_bucket_available_bytes(&b, 99), 99);
    assert_false(token_bucket_take(&b, 100, 99));
    assert_true(token_bucket_take(&b, 100, 100));
    assert_int_equal(token_bucket_available_bytes(&b, 100), 0);
    assert_int_equal(token_bucket_available_bytes(&b, 10000), 500); /* capped */
    /* A rate that is not a whole number of bytes per ms accrues exactly: 333 B/s. */
    token_bucket_init(&b, 333, 1000, 0);
    assert_true(token_bucket_take(&b, 1000, 0));
    assert_int_equal(token_bucket_available_bytes(&b, 1), 0);   /* 0.333 */
    assert_int_equal(token_bucket_available_bytes(&b, 3), 0);   /* 0.999 */
    assert_int_equal(token_bucket_available_bytes(&b, 4), 1);   /* 1.332 */
    assert_int_equal(token_bucket_available_bytes(&b, 3000), 999);
}

static void wait_names_the_millisecond(void **state)
{
    (void)state;
    struct token_bucket b;
    token_bucket_init(&b, 2000, 1000, 0); /* 2 bytes per ms */
    assert_int_equal(token_bucket_wait_ms(&b, 1000, 0), 0);
    assert_true(token_bucket_take(&b, 1000, 0));
    assert_int_equal(token_bucket_wait_ms(&b, 1000, 0), 500);
    assert_int_equal(token_bucket_wait_ms(&b, 3, 0), 2); /* rounded up */
    uint64_t wait = token_bucket_wait_ms(&b, 777, 10);
    assert_false(token_bucket_take(&b, 777, 10 + wait - 1));
    assert_true(token_bucket_take(&b, 777, 10 + wait));
}

/* Chunks sent as soon as the bucket allows, ticked every 10 ms for 60 s: the bytes sent are the
 * burst plus rate x time, within one chunk. */
static void long_run_follows_the_rate(void **state)
{
    (void)state;
    const uint64_t rate = 262144, burst = 16384, chunk = 8192;
    struct token_bucket b;
    token_bucket_init(&b, rate, burst, 0);
    uint64_t sent = 0;
    for (uint64_t now = 0; now <= 60000; now += 10)
        while (token_bucket_take(&b, chunk, now))
            sent += chunk;
    uint64_t want = burst + rate * 60;
    assert_true(sent <= want);
    assert_true(sent + chunk >= want);
}

static void unlimited_takes_everything(void **state)
{
    (void)state;
    struct token_bucket b;
    token_bucket_init(&b, 0, 0, 0);
    for (int i = 0; i < 1000; i++)
        assert_true(token_bucket_take(&b, 1u << 20, 0));
    assert_int_equal(token_bucket_wait_ms(&b, 0, 0), 0);
}

static void clock_back_and_long_idle(void **state)
{
    (void)state;
    struct token_bucket b;
    token_bucket_init(&b, TOKEN_BUCKET_RATE_BYTES_PER_S_MAX, 1u << 20, 5000);
    assert_true(token_bucket_take(&b, 1u << 20, 5000));
    assert_int_equal(token_bucket_available_bytes(&b, 4000), 0); /* back: nothing accrues */
    assert_int_equal(token_bucket_available_bytes(&b, 5000), 0);
    /* Years later: full, no overflow. */
    assert_int_equal(token_bucket_available_bytes(&b, UINT64_MAX / 2), 1u << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_empty),
        cmocka_unit_test(accrues_at_the_rate_up_to_the_burst),
        cmocka_unit_test(wait_names_the_millisecond),
        cmocka_unit_test(long_run_follows_the_rate),
        cmocka_unit_test(unlimited_takes_everything),
        cmocka_unit_test(clock_back_and_long_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
