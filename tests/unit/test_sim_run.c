/* test_sim_run.c — whole simulated runs on the Raft core: a fault-free run makes progress with
 * no violation, a seed replays to the same result, and the fault list parses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim.h"

static struct sim *make_sim(uint32_t faults, uint32_t nodes)
{
    struct sim_options options;
    sim_options_defaults(&options);
    options.faults = faults;
    options.node_count = nodes;
    options.duration_ms = 1000;
    options.report = NULL;
    char error[128];
    struct sim *sim = NULL;
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), 0);
    return sim;
}

static void test_run_without_faults_makes_progress(void **state)
{
    (void)state;
    struct sim *sim = make_sim(0, 3);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        struct sim_seed_result r;
        assert_int_equal(sim_run_seed(sim, seed, &r), 0);
        if (r.violation) fail_msg("seed %llu: %s", (unsigned long long)seed, r.message);
        assert_true(r.commits > 100);
        assert_true(r.ops > 100);
        assert_int_equal(r.crashes, 0);
        assert_true(r.elections >= 1);
        assert_true(r.ticks >= 100); /* 1 s of faults-free time plus the liveness check */
    }
    sim_destroy(sim);
}

/* A seed is a pure function of its number: the same counts whether run first, after other
 * seeds, or in another simulator object. */
static void test_seed_replays_exactly(void **state)
{
    (void)state;
    struct sim *a = make_sim(SIM_FAULT_ALL, 3);
    struct sim *b = make_sim(SIM_FAULT_ALL, 3);
    struct sim_seed_result first, other, again;
    assert_int_equal(sim_run_seed(a, 9, &first), 0);
    assert_int_equal(sim_run_seed(a, 10, &other), 0);
    assert_int_equal(sim_run_seed(b, 9, &again), 0);
    assert_int_equal(first.events, again.events);
    assert_int_equal(first.messages, again.messages);
    assert_int_equal(first.commits, again.commits);
    assert_int_equal(first.elections, again.elections);
    assert_int_equal(first.crashes, again.crashes);
    assert_int_equal(first.ops, again.ops);
    assert_int_equal(first.violation, again.violation);
    assert_true(first.crashes + other.crashes > 0); /* the faults did happen */
    assert_true(first.events != other.events || first.commits != other.commits);
    sim_destroy(a);
    sim_destroy(b);
}

static void test_five_nodes(void **state)
{
    (void)state;
    struct sim *sim = make_sim(0, 5);
    struct sim_seed_result r;
    assert_int_equal(sim_run_seed(sim, 11, &r), 0);
    if (r.violation) fail_msg("%s", r.message);
    assert_true(r.commits > 100);
    sim_destroy(sim);
}

static void test_faults_parse(void **state)
{
    (void)state;
    uint32_t faults = 0;
    assert_int_equal(sim_faults_parse("all", &faults), 0);
    assert_int_equal(faults, SIM_FAULT_ALL);
    assert_int_equal(sim_faults_parse("none", &faults), 0);
    assert_int_equal(faults, 0);
    assert_int_equal(sim_faults_parse("drop,crash", &faults), 0);
    assert_int_equal(faults, SIM_FAULT_DROP | SIM_FAULT_CRASH);
    assert_int_equal(sim_faults_parse("drop,,crash", &faults), -1);
    assert_int_equal(sim_faults_parse("drop,meteor", &faults), -1);
    assert_int_equal(sim_faults_parse("", &faults), -1);
    assert_int_equal(sim_faults_parse("partition,", &faults), -1);
}

static void test_create_refuses_bad_options(void **state)
{
    (void)state;
    struct sim_options options;
    sim_options_defaults(&options);
    char error[128];
    struct sim *sim = NULL;
    options.protocol = "carrier-pigeon";
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), -1);
    assert_null(sim);
    assert_non_null(strstr(error, "unknown protocol"));
    sim_options_defaults(&options);
    options.node_count = 0;
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_without_faults_makes_progress),
        cmocka_unit_test(test_seed_replays_exactly),
        cmocka_unit_test(test_five_nodes),
        cmocka_unit_test(test_faults_parse),
        cmocka_unit_test(test_create_refuses_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
