/*
 * test_cluster_rebalance.c — the rebalancer's plan (src/cluster/rebalance.h): nothing moves in
 * a balanced topology; a growth moves replicas only onto the new node and a removal only off
 * the leaving one, about S x R / N of them (consistent hashing); carrying out the moves reaches
 * a topology with nothing left to move; the runnable moves respect the per-node limit and one
 * per shard; too few nodes left is an error; the plan is the same whatever the replica order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/rebalance.h"
#include "cluster/topology.h"

static struct topology_node test_node(uint32_t id)
{
    struct topology_node node = {.id = id, .state = TOPOLOGY_NODE_ACTIVE, .weight = 1};
    snprintf(node.client.host, sizeof(node.client.host), "127.0.0.1");
    node.client.port = (uint16_t)(7000 + id);
    snprintf(node.peer.host, sizeof(node.peer.host), "127.0.0.1");
    node.peer.port = (uint16_t)(8000 + id);
    return node;
}

/* A new cluster of nodes 1..count. */
static struct topology *test_cluster(uint32_t count, uint32_t shards, uint32_t replicas)
{
    struct topology_node nodes[16];
    assert_true(count <= 16);
    for (uint32_t i = 0; i < count; i++)
        nodes[i] = test_node(i + 1);
    struct topology_build_input input = {.cluster_id = 7, .shard_count = shards,
                                         .replica_count = replicas, .node_count = count,
                                         .nodes = nodes};
    struct topology *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_OK);
    return t;
}

/* What CLUSTER MEET records: the node added JOINING, every shard's replicas unchanged. */
static void test_add_node(struct topology *t, uint32_t id)
{
    assert_true(t->node_count < TOPOLOGY_NODES_MAX);
    struct topology_node node = test_node(id);
    node.state = TOPOLOGY_NODE_JOINING;
    t->nodes[t->node_count++] = node; /* ids are added in ascending order here */
    t->epoch++;
    assert_int_equal(topology_validate(t), TOPOLOGY_OK);
}

static void test_set_state(struct topology *t, uint32_t id, uint8_t state)
{
    struct topology_node *node = (struct topology_node *)topology_node_find(t, id);
    assert_non_null(node);
    node->state = state;
    t->epoch++;
}

static struct rebalance_plan *test_plan(const struct topology *t, uint32_t limit)
{
    struct rebalance_plan *plan = calloc(1, sizeof(*plan));
    assert_non_null(plan);
    assert_int_equal(rebalance_plan(t, limit, plan), TOPOLOGY_OK);
    return plan;
}

/* Carries out one move as the rebalancer records it: `to` takes `from`'s place in the list. */
static void test_apply(struct topology *t, const struct rebalance_move *m)
{
    struct topology_shard *shard = &t->shards[m->shard];
    assert_true(m->from != 0 && m->to != 0);
    assert_true(topology_shard_has_replica(shard, m->from));
    assert_false(topology_shard_has_replica(shard, m->to));
    for (uint32_t r = 0; r < shard->replica_count; r++)
        if (shard->replicas[r] == m->from)
            shard->replicas[r] = m->to;
    t->epoch++;
    shard->config_epoch = t->epoch;
    assert_int_equal(topology_validate(t), TOPOLOGY_OK);
}

/* Runs the plan to its end, the runnable moves of each round at once; returns the rounds. */
static uint32_t test_converge(struct topology *t, uint32_t limit, uint32_t *moved)
{
    uint32_t rounds = 0;
    *moved = 0;
    for (;;) {
        struct rebalance_plan *plan = test_plan(t, limit);
        if (plan->move_count == 0) {
            free(plan);
            return rounds;
        }
        assert_true(plan->runnable_count > 0); /* never stuck */
        for (uint32_t i = 0; i < plan->move_count; i++)
            if (plan->moves[i].runnable) {
                test_apply(t, &plan->moves[i]);
                (*moved)++;
            }
        free(plan);
        rounds++;
        assert_true(rounds < 1000);
    }
}

static uint32_t test_replicas_on(const struct topology *t, uint32_t id)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < t->shard_count; s++)
        n += topology_shard_has_replica(&t->shards[s], id);
    return n;
}

static void test_balanced_moves_nothing(void **state)
{
    (void)state;
    struct topology *t = test_cluster(5, 32, 3);
    struct rebalance_plan *plan = test_plan(t, 1);
    assert_int_equal(plan->move_count, 0);
    assert_int_equal(plan->runnable_count, 0);
    free(plan);
    free(t);
}

static void test_growth_moves_only_to_new_node(void **state)
{
    (void)state;
    struct topology *t = test_cluster(3, 16, 3);
    test_add_node(t, 4);
    struct rebalance_plan *plan = test_plan(t, 1);
    assert_true(plan->move_count > 0);
    for (uint32_t i = 0; i < plan->move_count; i++) {
        assert_int_equal(plan->moves[i].to, 4);
        assert_true(plan->moves[i].from >= 1 && plan->moves[i].from <= 3);
        if (i > 0) /* by shard, one move per shard for one new node */
            assert_true(plan->moves[i].shard > plan->moves[i - 1].shard);
    }
    /* Node 4 takes part in every move: one runs at a time with the default limit. */
    assert_int_equal(plan->runnable_count, 1);
    assert_true(plan->moves[0].runnable);
    uint32_t planned = plan->move_count, moved = 0;
    free(plan);
    uint32_t rounds = test_converge(t, 1, &moved);
    assert_int_equal(moved, planned);
    assert_int_equal(rounds, planned);
    /* The new node holds what it was planned to, about S x R / N. */
    assert_int_equal(test_replicas_on(t, 4), planned);
    assert_true(planned >= 16 * 3 / 4 / 2 && planned <= 16 * 3 / 4 * 2);
    free(t);
}

static void test_growth_moves_about_s_r_over_n(void **state)
{
    (void)state;
    /* 64 shards of 3 on 4 nodes, a fifth added: consistent hashing moves about 64 x 3 / 5 =
     * 38 replicas, all to the new node, not a reshuffle of the 192. */
    struct topology *t = test_cluster(4, 64, 3);
    test_add_node(t, 5);
    struct rebalance_plan *plan = test_plan(t, 1);
    print_message("4 -> 5 nodes, S = 64, R = 3: %u replicas move\n", plan->move_count);
    assert_true(plan->move_count >= 19 && plan->move_count <= 76);
    for (uint32_t i = 0; i < plan->move_count; i++)
        assert_int_equal(plan->moves[i].to, 5);
    free(plan);
    free(t);
}

static void test_leaving_node_moves_off(void **state)
{
    (void)state;
    struct topology *t = test_cluster(4, 16, 3);
    uint32_t held = test_replicas_on(t, 2);
    assert_true(held > 0);
    test_set_state(t, 2, TOPOLOGY_NODE_LEAVING);
    struct rebalance_plan *plan = test_plan(t, 1);
    assert_int_equal(plan->move_count, held);
    for (uint32_t i = 0; i < plan->move_count; i++) {
        assert_int_equal(plan->moves[i].from, 2);
        assert_true(plan->moves[i].to != 2 && plan->moves[i].to != 0);
    }
    free(plan);
    uint32_t moved = 0;
    test_converge(t, 1, &moved);
    assert_int_equal(moved, held);
    assert_int_equal(test_replicas_on(t, 2), 0);
    free(t);
}

static void test_grow_then_shrink_back(void **state)
{
    (void)state;
    /* 3 -> 4 -> 3 (the fourth node leaving): the placement comes back to the first one. */
    struct topology *t = test_cluster(3, 8, 3);
    struct topology *first = malloc(sizeof(*first));
    assert_non_null(first);
    *first = *t;
    test_add_node(t, 4);
    uint32_t moved_in = 0, moved_out = 0;
    test_converge(t, 1, &moved_in);
    test_set_state(t, 4, TOPOLOGY_NODE_LEAVING);
    test_converge(t, 1, &moved_out);
    assert_int_equal(moved_in, moved_out);
    assert_int_equal(test_replicas_on(t, 4), 0);
    for (uint32_t s = 0; s < t->shard_count; s++)
        for (uint32_t r = 0; r < first->shards[s].replica_count; r++)
            assert_true(topology_shard_has_replica(&t->shards[s], first->shards[s].replicas[r]));
    free(first);
    free(t);
}

static void test_runnable_respects_limits(void **state)
{
    (void)state;
    struct topology *t = test_cluster(5, 64, 3);
    test_add_node(t, 6);
    test_add_node(t, 7);
    test_set_state(t, 1, TOPOLOGY_NODE_LEAVING);
    for (uint32_t limit = 1; limit <= 4; limit++) {
        struct rebalance_plan *plan = test_plan(t, limit);
        uint32_t busy[8] = {0}, runnable = 0;
        uint32_t last_shard = UINT32_MAX, shard_runnable = 0;
        for (uint32_t i = 0; i < plan->move_count; i++) {
            const struct rebalance_move *m = &plan->moves[i];
            if (m->shard != last_shard)
                shard_runnable = 0;
            last_shard = m->shard;
            if (!m->runnable)
                continue;
            runnable++;
            assert_int_equal(++shard_runnable, 1);
            busy[m->from]++;
            busy[m->to]++;
        }
        assert_int_equal(runnable, plan->runnable_count);
        for (uint32_t id = 1; id <= 7; id++)
            assert_true(busy[id] <= limit);
        /* The new nodes each run as many as the limit allows. */
        assert_int_equal(busy[6], limit);
        assert_int_equal(busy[7], limit);
        free(plan);
    }
    uint32_t moved = 0;
    test_converge(t, 2, &moved);
    assert_int_equal(test_replicas_on(t, 1), 0);
    assert_true(test_replicas_on(t, 6) > 0 && test_replicas_on(t, 7) > 0);
    free(t);
}

static void test_too_few_nodes_left(void **state)
{
    (void)state;
    struct topology *t = test_cluster(3, 8, 3);
    test_set_state(t, 3, TOPOLOGY_NODE_LEAVING);
    struct rebalance_plan *plan = calloc(1, sizeof(*plan));
    assert_non_null(plan);
    assert_int_equal(rebalance_plan(t, 1, plan), TOPOLOGY_ERROR_PLACEMENT);
    free(plan);
    free(t);
}

static void test_replica_order_does_not_matter(void **state)
{
    (void)state;
    /* The preferred leader's place in a list changes with leadership balance; the plan is
     * about sets, so every node computes the same moves from lists in any order. */
    struct topology *t = test_cluster(3, 16, 3);
    test_add_node(t, 4);
    struct rebalance_plan *a = test_plan(t, 1);
    for (uint32_t s = 0; s < t->shard_count; s++) {
        struct topology_shard *shard = &t->shards[s];
        uint32_t first = shard->replicas[0];
        shard->replicas[0] = shard->replicas[shard->replica_count - 1];
        shard->replicas[shard->replica_count - 1] = first;
    }
    struct rebalance_plan *b = test_plan(t, 1);
    assert_int_equal(a->move_count, b->move_count);
    assert_memory_equal(a->moves, b->moves, a->move_count * sizeof(a->moves[0]));
    free(a);
    free(b);
    free(t);
}

int main(void)
{
    alarm(60); /* a hang is a failure */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balanced_moves_nothing),
        cmocka_unit_test(test_growth_moves_only_to_new_node),
        cmocka_unit_test(test_growth_moves_about_s_r_over_n),
        cmocka_unit_test(test_leaving_node_moves_off),
        cmocka_unit_test(test_grow_then_shrink_back),
        cmocka_unit_test(test_runnable_respects_limits),
        cmocka_unit_test(test_too_few_nodes_left),
        cmocka_unit_test(test_replica_order_does_not_matter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
