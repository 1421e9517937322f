/* test_sim_net.c — the simulated network's fault model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/net.h"

static void test_net_healthy_delivers_once_within_range(void **state)
{
    (void)state;
    struct sim_net net;
    struct sim_rng rng;
    sim_net_init(&net, 3, 100, 900, 50000);
    sim_rng_init(&rng, 1, SIM_RNG_NETWORK);
    for (int i = 0; i < 10000; i++) {
        int64_t d[SIM_NET_COPIES_MAX];
        assert_int_equal(sim_net_plan(&net, &rng, 0, 1, d), 1);
        assert_true(d[0] >= 100 && d[0] <= 900);
    }
}

static void test_net_partition_cuts_across_only(void **state)
{
    (void)state;
    struct sim_net net;
    sim_net_init(&net, 5, 100, 200, 0);
    sim_net_partition(&net, 0x3); /* {1,2} | {3,4,5} */
    assert_true(sim_net_link_up(&net, 0, 1));
    assert_true(sim_net_link_up(&net, 2, 4));
    assert_false(sim_net_link_up(&net, 0, 2));
    assert_false(sim_net_link_up(&net, 4, 1));
    assert_int_equal(sim_net_links_down(&net), 12);
    struct sim_rng rng;
    sim_rng_init(&rng, 2, SIM_RNG_NETWORK);
    int64_t d[SIM_NET_COPIES_MAX];
    assert_int_equal(sim_net_plan(&net, &rng, 0, 3, d), 0);
    sim_net_heal_links(&net);
    assert_int_equal(sim_net_links_down(&net), 0);
    assert_int_equal(sim_net_plan(&net, &rng, 0, 3, d), 1);
}

static void test_net_asymmetric_cut_and_isolation(void **state)
{
    (void)state;
    struct sim_net net;
    sim_net_init(&net, 3, 100, 200, 0);
    sim_net_cut(&net, 0, 2);
    assert_false(sim_net_link_up(&net, 0, 2));
    assert_true(sim_net_link_up(&net, 2, 0));
    sim_net_heal(&net);
    sim_net_isolate(&net, 1);
    assert_false(sim_net_link_up(&net, 1, 0));
    assert_false(sim_net_link_up(&net, 2, 1));
    assert_true(sim_net_link_up(&net, 0, 2));
    assert_int_equal(sim_net_links_down(&net), 4);
}

/* Loss, duplication and spikes happen at about their configured rates (a fixed seed: the
 * counts are deterministic; the bounds are wide enough to survive a change of generator). */
static void test_net_rates(void **state)
{
    (void)state;
    struct sim_net net;
    struct sim_rng rng;
    sim_net_init(&net, 3, 100, 200, 50000);
    sim_rng_init(&rng, 3, SIM_RNG_NETWORK);
    net.drop_ppm = 50000;  /* 5% */
    net.dup_ppm = 20000;   /* 2% */
    net.spike_ppm = 100000; /* 10% */
    uint32_t lost = 0, dup = 0, spiked = 0, n = 200000;
    for (uint32_t i = 0; i < n; i++) {
        int64_t d[SIM_NET_COPIES_MAX];
        uint32_t copies = sim_net_plan(&net, &rng, 1, 2, d);
        lost += copies == 0;
        dup += copies == 2;
        for (uint32_t c = 0; c < copies; c++) spiked += d[c] > 200;
    }
    assert_in_range(lost, n * 4 / 100, n * 6 / 100);
    assert_in_range(dup, n * 15 / 1000, n * 25 / 1000);
    assert_in_range(spiked, n * 8 / 100, n * 12 / 100);
    net.drop_ppm = 1000000;
    int64_t d[SIM_NET_COPIES_MAX];
    assert_int_equal(sim_net_plan(&net, &rng, 1, 2, d), 0);
    net.drop_ppm = 0;
    net.dup_ppm = 1000000;
    assert_int_equal(sim_net_plan(&net, &rng, 1, 2, d), 2);
    sim_net_heal(&net);
    assert_int_equal(net.drop_ppm + net.dup_ppm + net.spike_ppm, 0);
}

/* The same seed gives the same plan: runs replay. */
static void test_net_deterministic(void **state)
{
    (void)state;
    struct sim_net net;
    sim_net_init(&net, 3, 100, 5000, 50000);
    net.drop_ppm = 100000;
    net.dup_ppm = 100000;
    net.spike_ppm = 100000;
    struct sim_rng a, b;
    sim_rng_init(&a, 99, SIM_RNG_NETWORK);
    sim_rng_init(&b, 99, SIM_RNG_NETWORK);
    for (int i = 0; i < 1000; i++) {
        int64_t da[SIM_NET_COPIES_MAX] = {0}, db[SIM_NET_COPIES_MAX] = {0};
        uint32_t ca = sim_net_plan(&net, &a, 0, 1, da), cb = sim_net_plan(&net, &b, 0, 1, db);
        assert_int_equal(ca, cb);
        for (uint32_t c = 0; c < ca; c++) assert_int_equal(da[c], db[c]);
    }
    struct sim_rng other;
    sim_rng_init(&other, 99, SIM_RNG_FAULT);
    assert_true(sim_rng_next(&other) != sim_rng_next(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_healthy_delivers_once_within_range),
        cmocka_unit_test(test_net_partition_cuts_across_only),
        cmocka_unit_test(test_net_asymmetric_cut_and_isolation),
        cmocka_unit_test(test_net_rates),
        cmocka_unit_test(test_net_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
