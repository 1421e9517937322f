/* test_sim_queue.c — the simulator's event heap: time order, FIFO ties, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sim/queue.h"
#include "sim/rng.h"

static void test_queue_orders_by_time(void **state)
{
    (void)state;
    struct sim_queue q;
    assert_int_equal(sim_queue_init(&q, 16), 0);
    int64_t times[] = {50, 10, 40, 20, 30};
    for (int i = 0; i < 5; i++) {
        struct sim_event e = {.time_us = times[i], .a = (uint32_t)i};
        assert_true(sim_queue_push(&q, &e));
    }
    assert_int_equal(sim_queue_peek(&q)->time_us, 10);
    int64_t last = -1;
    struct sim_event e;
    for (int i = 0; i < 5; i++) {
        assert_true(sim_queue_pop(&q, &e));
        assert_true(e.time_us > last);
        last = e.time_us;
    }
    assert_false(sim_queue_pop(&q, &e));
    assert_null(sim_queue_peek(&q));
    sim_queue_free(&q);
}

static void test_queue_ties_fire_in_push_order(void **state)
{
    (void)state;
    struct sim_queue q;
    assert_int_equal(sim_queue_init(&q, 64), 0);
    for (uint32_t i = 0; i < 40; i++) {
        struct sim_event e = {.time_us = 7 + (i % 2) * 100, .a = i};
        assert_true(sim_queue_push(&q, &e));
    }
    struct sim_event e;
    uint32_t expect = 0;
    for (int i = 0; i < 20; i++, expect += 2) {
        assert_true(sim_queue_pop(&q, &e));
        assert_int_equal(e.time_us, 7);
        assert_int_equal(e.a, expect);
    }
    expect = 1;
    for (int i = 0; i < 20; i++, expect += 2) {
        assert_true(sim_queue_pop(&q, &e));
        assert_int_equal(e.a, expect);
    }
    sim_queue_free(&q);
}

static void test_queue_full_is_refused(void **state)
{
    (void)state;
    struct sim_queue q;
    assert_int_equal(sim_queue_init(&q, 4), 0);
    struct sim_event e = {.time_us = 1};
    for (int i = 0; i < 4; i++) assert_true(sim_queue_push(&q, &e));
    assert_false(sim_queue_push(&q, &e));
    assert_int_equal(q.count, 4);
    sim_queue_clear(&q);
    assert_int_equal(q.count, 0);
    assert_true(sim_queue_push(&q, &e));
    sim_queue_free(&q);
}

/* Random interleavings of pushes and pops against the heap property: every pop returns an
 * event no earlier than the previous pop (times pushed are never in the past). */
static void test_queue_random_interleaving(void **state)
{
    (void)state;
    struct sim_queue q;
    assert_int_equal(sim_queue_init(&q, 4096), 0);
    struct sim_rng rng;
    sim_rng_init(&rng, 42, SIM_RNG_NETWORK);
    int64_t now = 0;
    uint64_t pushed = 0, popped = 0;
    for (int step = 0; step < 200000; step++) {
        if (sim_rng_below(&rng, 3) != 0 && q.count < q.capacity) {
            struct sim_event e = {.time_us = now + (int64_t)sim_rng_below(&rng, 1000)};
            assert_true(sim_queue_push(&q, &e));
            pushed++;
        } else {
            struct sim_event e;
            if (sim_queue_pop(&q, &e)) {
                assert_true(e.time_us >= now);
                now = e.time_us;
                popped++;
            }
        }
    }
    assert_int_equal(pushed - popped, q.count);
    sim_queue_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_orders_by_time),
        cmocka_unit_test(test_queue_ties_fire_in_push_order),
        cmocka_unit_test(test_queue_full_is_refused),
        cmocka_unit_test(test_queue_random_interleaving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
