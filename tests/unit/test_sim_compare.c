/* test_sim_compare.c — --compare's measurements (src/sim/compare.c): both protocols fill their
 * stats with consistent counts, the leader-isolation window runs, a compare seed replays to the
 * same stats, and a duration too short for the compare script is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/sim.h"

static struct sim *make_compare_sim(const char *protocol, struct sim_stats *stats)
{
    struct sim_options options;
    sim_options_defaults(&options);
    options.protocol = protocol;
    options.duration_ms = 4000;
    options.report = NULL;
    options.stats = stats;
    char error[128];
    struct sim *sim = NULL;
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), 0);
    return sim;
}

static uint64_t histogram_total(const uint64_t *buckets, uint32_t count)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) total += buckets[i];
    return total;
}

static void test_both_protocols_fill_stats(void **state)
{
    (void)state;
    static const char *const protocols[] = {"raft", "paxos"};
    for (int p = 0; p < 2; p++) {
        struct sim_stats *stats = calloc(1, sizeof(*stats));
        assert_non_null(stats);
        struct sim *sim = make_compare_sim(protocols[p], stats);
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct sim_seed_result r;
            assert_int_equal(sim_run_seed(sim, seed, &r), 0);
            if (r.violation) fail_msg("%s seed %llu: %s", protocols[p], (unsigned long long)seed,
                                      r.message);
        }
        assert_int_equal(stats->runs, 3);
        assert_int_equal(stats->violations, 0);
        assert_true(stats->client_commits > 100);
        assert_int_equal(histogram_total(stats->latency, SIM_STATS_LATENCY_BUCKETS),
                         stats->client_commits);
        assert_int_equal(histogram_total(stats->recovery, SIM_STATS_RECOVERY_BUCKETS),
                         stats->recoveries);
        assert_true(stats->steady_commits > 0 && stats->steady_commits <= stats->client_commits);
        assert_true(stats->steady_messages > 0 && stats->steady_messages <= stats->messages);
        assert_true(stats->bytes > stats->messages);
        assert_true(stats->persist_steps >= stats->steady_persist_steps);
        assert_int_equal(stats->partition_us + stats->partition_skipped * 1500000, 3 * 1500000);
        sim_destroy(sim);
        free(stats);
    }
}

static void test_compare_seed_replays(void **state)
{
    (void)state;
    struct sim_stats *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    assert_true(a != NULL && b != NULL);
    struct sim *one = make_compare_sim("paxos", a);
    struct sim *two = make_compare_sim("paxos", b);
    struct sim_seed_result r;
    assert_int_equal(sim_run_seed(one, 5, &r), 0);
    assert_int_equal(sim_run_seed(two, 6, &r), 0);
    memset(b, 0, sizeof(*b));
    assert_int_equal(sim_run_seed(two, 5, &r), 0);
    assert_memory_equal(a, b, sizeof(*a));
    sim_destroy(one);
    sim_destroy(two);
    free(a);
    free(b);
}

static void test_short_duration_refused(void **state)
{
    (void)state;
    struct sim_stats stats;
    struct sim_options options;
    sim_options_defaults(&options);
    options.duration_ms = SIM_COMPARE_PARTITION_US_END / 1000;
    options.stats = &stats;
    char error[128];
    struct sim *sim = NULL;
    assert_int_equal(sim_create(&options, &sim, error, sizeof(error)), -1);
    assert_null(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_protocols_fill_stats),
        cmocka_unit_test(test_compare_seed_replays),
        cmocka_unit_test(test_short_duration_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
