/*
 * test_paxos_random.c — the Multi-Paxos core under random schedules: messages delivered out
 * of order between random pairs, dropped, nodes crashed and restarted, campaigns forced,
 * proposals on whoever leads. After every step, every slot applied by two nodes holds the same
 * value on both (agreement), and at the end of a calm period every node has applied what the
 * leader chose (progress). A small, deterministic cousin of the simulator's seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/cluster.h"
#include "../support/paxos_helpers.h"
#include "paxos/paxos.h"

enum { RANDOM_STEPS = 3000, RANDOM_SEEDS = 12 };

static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void check_agreement(struct px *px, uint64_t seed)
{
    for (uint64_t slot = 1; slot < PX_APPLIED_MAX; slot++) {
        const char *first = NULL;
        for (cn_node_id id = 1; id <= px->c.node_count; id++) {
            const char *value = px_applied(px, id, slot);
            if (value == NULL || strcmp(value, "snap") == 0)
                continue;
            if (first == NULL)
                first = value;
            else if (strcmp(first, value) != 0) {
                printf("seed %lu: slot %lu applied as %s and %s\n", (unsigned long)seed,
                       (unsigned long)slot, first, value);
                fail();
            }
        }
    }
}

static void random_step(struct px *px, uint64_t *rng, uint32_t *proposals)
{
    uint32_t count = px->c.node_count;
    cn_node_id a = (cn_node_id)(next_random(rng) % count) + 1;
    cn_node_id b = (cn_node_id)(next_random(rng) % count) + 1;
    uint32_t action = (uint32_t)(next_random(rng) % 100);
    struct cluster_node *n = cluster_node(&px->c, a);
    if (action < 45) {
        px_deliver_one(px, a, b, 0);
    } else if (action < 55) {
        cluster_drop(&px->c, a, b, 0);
    } else if (action < 75) {
        if (n->core != NULL)
            px_tick(px, a, 1);
    } else if (action < 90) {
        cn_node_id leader = cluster_leader(&px->c);
        if (leader != 0 && *proposals < PX_APPLIED_MAX / 2) {
            char value[16];
            snprintf(value, sizeof(value), "p%u", *proposals);
            if (px_propose(px, leader, value, NULL) == CN_OK)
                (*proposals)++;
        }
    } else if (action < 93) {
        if (n->core != NULL)
            px_campaign(px, a);
    } else if (action < 96) {
        if (n->core != NULL)
            px_crash(px, a);
        else
            px_restart(px, a);
    } else {
        if (n->core == NULL)
            px_restart(px, a);
    }
}

static void run_seed(uint64_t seed, uint32_t nodes)
{
    struct cn_config config;
    px_config(&config);
    config.message_entries_max = 1 + (uint32_t)(seed % 3);
    config.random_seed = seed;
    struct px *px = px_new_with(nodes, &config);
    uint64_t rng = seed;
    uint32_t proposals = 0;
    for (uint32_t step = 0; step < RANDOM_STEPS; step++) {
        random_step(px, &rng, &proposals);
        check_agreement(px, seed);
    }
    /* Calm: everyone up, the network reliable. */
    for (cn_node_id id = 1; id <= nodes; id++)
        if (cluster_node(&px->c, id)->core == NULL)
            px_restart(px, id);
    cn_node_id leader = px_elect(px);
    assert_int_not_equal(leader, 0);
    for (uint32_t round = 0; round < 5 && px_propose(px, leader, "last", NULL) != CN_OK; round++)
        px_tick_all(px, 5);
    px_tick_all(px, 60);
    leader = cluster_leader(&px->c);
    assert_int_not_equal(leader, 0);
    uint64_t commit = px_commit(px, leader);
    for (cn_node_id id = 1; id <= nodes; id++) {
        if (px_commit(px, id) != commit || px_applied_last(px, id) != commit) {
            printf("seed %lu: node %u commit %lu applied %lu, leader %u commit %lu\n",
                   (unsigned long)seed, id, (unsigned long)px_commit(px, id),
                   (unsigned long)px_applied_last(px, id), leader, (unsigned long)commit);
            fail();
        }
    }
    check_agreement(px, seed);
    if (getenv("PX_VERBOSE") != NULL)
        printf("seed %lu: %u proposals accepted, %lu slots chosen, ballot round %lu\n",
               (unsigned long)seed, proposals, (unsigned long)commit,
               (unsigned long)cn_ballot_round(px_promised(px, leader)));
    px_free(px);
}

static void test_random_three_nodes(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= RANDOM_SEEDS; seed++)
        run_seed(seed, 3);
}

static void test_random_five_nodes(void **state)
{
    (void)state;
    for (uint64_t seed = 101; seed <= 100 + RANDOM_SEEDS; seed++)
        run_seed(seed, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_three_nodes),
        cmocka_unit_test(test_random_five_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
