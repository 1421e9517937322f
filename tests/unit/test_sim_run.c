/* test_sim_run.c — whole simulated runs on the Raft core: a fault-free run makes progress with
 * no violation, a seed replays to the same result, and the fault list parses. With several
 * groups (--groups): every group commits client writes on both protocols, a seed replays, and
 * the planted bugs are caught. */
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

static struct sim *make_groups_sim(const char *protocol, uint32_t faults, uint32_t groups,
                                   enum sim_storage storage, enum sim_plant plant)
{
    struct sim_options options;
    sim_options_defaults(&options);
    options.protocol = protocol;
    options.faults = faults;
    options.group_count = groups;
    options.storage = storage;
    options.plant = plant;
    options.duration_ms = 1000;
    options.report = NULL;
    char error[128];
    struct sim *sim = NULL;
    if (sim_create(&options, &sim, error, sizeof(error)) != 0) fail_msg("%s", error);
    return sim;
}

/* Four groups on three nodes, no faults: each group elects, and client writes commit in every
 * one of them (the keys are spread over the groups by slot). */
static void test_groups_all_make_progress(void **state)
{
    (void)state;
    static const char *const protocols[] = {"raft", "paxos"};
    for (uint32_t p = 0; p < 2; p++) {
        struct sim *sim = make_groups_sim(protocols[p], 0, 4, SIM_STORAGE_MEM, SIM_PLANT_NONE);
        struct sim_seed_result r;
        assert_int_equal(sim_run_seed(sim, 5, &r), 0);
        if (r.violation) fail_msg("%s: %s", protocols[p], r.message);
        assert_int_equal(r.groups_committed, 4);
        assert_int_equal(r.groups_with_ops, 4);
        assert_true(r.elections >= 4); /* one leader per group at least */
        assert_true(r.commits > 200);
        sim_destroy(sim);
    }
}

/* With groups and every fault, a seed still replays exactly, on both protocols, on the shared
 * WAL too. */
static void test_groups_seed_replays_exactly(void **state)
{
    (void)state;
    for (int run = 0; run < 4; run++) {
        enum sim_storage storage = run & 1 ? SIM_STORAGE_WAL : SIM_STORAGE_MEM;
        const char *protocol = run & 2 ? "paxos" : "raft";
        struct sim *a = make_groups_sim(protocol, SIM_FAULT_ALL, 3, storage, SIM_PLANT_NONE);
        struct sim *b = make_groups_sim(protocol, SIM_FAULT_ALL, 3, storage, SIM_PLANT_NONE);
        struct sim_seed_result first, again;
        assert_int_equal(sim_run_seed(a, 21, &first), 0);
        assert_int_equal(sim_run_seed(b, 21, &again), 0);
        if (first.violation) fail_msg("%s", first.message);
        assert_int_equal(first.events, again.events);
        assert_int_equal(first.messages, again.messages);
        assert_int_equal(first.commits, again.commits);
        assert_int_equal(first.ops, again.ops);
        assert_true(first.crashes > 0);
        assert_true(first.groups_committed >= 2);
        sim_destroy(a);
        sim_destroy(b);
    }
}

/* A node applying one group's entries to another group's state machine is caught at once,
 * even without faults, by the per-group state machine check. */
static void test_groups_planted_cross_apply_caught(void **state)
{
    (void)state;
    struct sim *sim = make_groups_sim("raft", 0, 2, SIM_STORAGE_MEM, SIM_PLANT_CROSS_APPLY);
    struct sim_seed_result r;
    assert_int_equal(sim_run_seed(sim, 3, &r), 0);
    assert_true(r.violation);
    assert_non_null(strstr(r.message, "state machine safety: group 1:"));
    sim_destroy(sim);
}

/* Acknowledging a group's update before the batch's shared sync is caught when a crash then
 * loses the batch: the WAL no longer holds what was acknowledged. */
static void test_groups_planted_early_ack_caught(void **state)
{
    (void)state;
    struct sim *sim = make_groups_sim("raft", SIM_FAULT_ALL, 4, SIM_STORAGE_WAL,
                                      SIM_PLANT_EARLY_ACK);
    uint32_t caught = 0;
    for (uint64_t seed = 1; seed <= 60 && caught == 0; seed++) {
        struct sim_seed_result r;
        assert_int_equal(sim_run_seed(sim, seed, &r), 0);
        if (!r.violation) continue;
        if (strstr(r.message, "wal recovery") == NULL) fail_msg("seed %llu: %s",
                                                                (unsigned long long)seed,
                                                                r.message);
        caught++;
    }
    assert_int_equal(caught, 1);
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
    sim_options_defaults(&options);
    options.group_count = 0;
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), -1);
    options.group_count = SIM_GROUPS_MAX + 1;
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), -1);
    assert_non_null(strstr(error, "--groups"));
    sim_options_defaults(&options);
    options.plant = SIM_PLANT_CROSS_APPLY; /* one group: nothing to cross */
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), -1);
    options.group_count = 2;
    options.plant = SIM_PLANT_EARLY_ACK; /* needs the WAL */
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), -1);
    assert_null(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_without_faults_makes_progress),
        cmocka_unit_test(test_seed_replays_exactly),
        cmocka_unit_test(test_five_nodes),
        cmocka_unit_test(test_groups_all_make_progress),
        cmocka_unit_test(test_groups_seed_replays_exactly),
        cmocka_unit_test(test_groups_planted_cross_apply_caught),
        cmocka_unit_test(test_groups_planted_early_ack_caught),
        cmocka_unit_test(test_faults_parse),
        cmocka_unit_test(test_create_refuses_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
