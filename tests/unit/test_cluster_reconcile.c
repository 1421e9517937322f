/*
 * test_cluster_reconcile.c — what a configuration still owes the topology
 * (src/cluster/reconcile.h): a shard whose move to a forgotten node was abandoned drops the
 * learner it left, or reverses a swap that completed unrecorded; a planned move, a joint
 * configuration, a node that is still ACTIVE, or a configuration that matches are left alone;
 * the meta group's configuration names a node the topology no longer has (an interrupted
 * removal), which is resumed unless it is the last voter.
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
#include "cluster/reconcile.h"
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

/* Nodes 1..3, S = 4, R = 3: every node holds every shard. */
static struct topology *test_three(void)
{
    struct topology_node nodes[3] = {test_node(1), test_node(2), test_node(3)};
    struct topology_build_input input = {.cluster_id = 7, .shard_count = 4, .replica_count = 3,
                                         .node_count = 3, .nodes = nodes};
    struct topology *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    assert_int_equal(topology_build(&input, NULL, t), TOPOLOGY_OK);
    return t;
}

static void test_add(struct topology *t, uint32_t id, uint8_t state)
{
    struct topology_node node = test_node(id);
    node.state = state;
    t->nodes[t->node_count++] = node;
    t->epoch++;
    assert_int_equal(topology_validate(t), TOPOLOGY_OK);
}

static struct rebalance_plan *test_plan(const struct topology *t)
{
    struct rebalance_plan *plan = calloc(1, sizeof(*plan));
    assert_non_null(plan);
    assert_int_equal(rebalance_plan(t, 1, plan), TOPOLOGY_OK);
    return plan;
}

static void test_list(struct cn_members *list, uint32_t count, const uint32_t *ids)
{
    list->count = count;
    for (uint32_t i = 0; i < count; i++)
        list->ids[i] = ids[i];
}

/* Node 4 was a learner of shard 0 when it was forgotten: the topology has nodes 1..3 only. */
static void test_abandoned_learner_dropped(void **state)
{
    (void)state;
    struct topology *t = test_three();
    struct rebalance_plan *plan = test_plan(t);
    assert_int_equal(plan->move_count, 0);
    struct cn_membership c = {0};
    test_list(&c.voters, 3, (uint32_t[]){1, 2, 3});
    test_list(&c.learners, 1, (uint32_t[]){4});
    struct reconcile_action a;
    reconcile_shard(t, plan, 0, &c, &a);
    assert_int_equal(a.kind, RECONCILE_DROP_LEARNER);
    assert_int_equal(a.from, 4);
    /* Without the learner nothing is owed. */
    c.learners.count = 0;
    reconcile_shard(t, plan, 0, &c, &a);
    assert_int_equal(a.kind, RECONCILE_NONE);
    free(plan);
    free(t);
}

/* While node 4 joins, a learner that a planned move goes to is the move's, not owed. */
static void test_planned_learner_kept(void **state)
{
    (void)state;
    struct topology *t = test_three();
    test_add(t, 4, TOPOLOGY_NODE_JOINING);
    struct rebalance_plan *plan = test_plan(t);
    assert_true(plan->move_count > 0);
    uint32_t shard = plan->moves[0].shard;
    assert_int_equal(plan->moves[0].to, 4);
    struct cn_membership c = {0};
    test_list(&c.voters, 3, (uint32_t[]){1, 2, 3});
    test_list(&c.learners, 1, (uint32_t[]){4});
    struct reconcile_action a;
    reconcile_shard(t, plan, shard, &c, &a);
    assert_int_equal(a.kind, RECONCILE_NONE);
    /* The swap done, the record not yet: the move's steps own it (it records it). */
    uint32_t from = plan->moves[0].from;
    uint32_t voters[3], n = 0;
    for (uint32_t id = 1; id <= 4; id++) /* nodes 1..3 with `from` replaced by node 4 */
        if (id != from)
            voters[n++] = id;
    assert_int_equal(n, 3);
    c.learners.count = 0;
    test_list(&c.voters, 3, voters);
    reconcile_shard(t, plan, shard, &c, &a);
    assert_int_equal(a.kind, RECONCILE_NONE);
    free(plan);
    free(t);
}

/* Node 4 took node 3's place in shard 1 and was forgotten before the move was recorded: node
 * 3 comes back in its place, also once it is a learner again. */
static void test_unrecorded_swap_reversed(void **state)
{
    (void)state;
    struct topology *t = test_three();
    struct rebalance_plan *plan = test_plan(t);
    struct cn_membership c = {0};
    test_list(&c.voters, 3, (uint32_t[]){1, 2, 4});
    struct reconcile_action a;
    reconcile_shard(t, plan, 1, &c, &a);
    assert_int_equal(a.kind, RECONCILE_REPLACE);
    assert_int_equal(a.from, 4);
    assert_int_equal(a.to, 3);
    test_list(&c.learners, 1, (uint32_t[]){3});
    reconcile_shard(t, plan, 1, &c, &a);
    assert_int_equal(a.kind, RECONCILE_REPLACE);
    assert_int_equal(a.from, 4);
    assert_int_equal(a.to, 3);
    /* The same with node 4 still listed but LEAVING (FORGET of a node that holds replicas). */
    test_add(t, 4, TOPOLOGY_NODE_LEAVING);
    free(plan);
    plan = test_plan(t);
    assert_int_equal(plan->move_count, 0); /* it holds none in the topology */
    c.learners.count = 0;
    reconcile_shard(t, plan, 1, &c, &a);
    assert_int_equal(a.kind, RECONCILE_REPLACE);
    assert_int_equal(a.from, 4);
    free(plan);
    free(t);
}

/* Left alone: a joint configuration (the core completes it first), a voter that is an ACTIVE
 * node (a topology behind the log, not an abandoned move), a configuration that matches. */
static void test_left_alone(void **state)
{
    (void)state;
    struct topology *t = test_three();
    test_add(t, 4, TOPOLOGY_NODE_ACTIVE);
    struct rebalance_plan *plan = calloc(1, sizeof(*plan)); /* no move */
    assert_non_null(plan);
    struct cn_membership c = {0};
    struct reconcile_action a;
    test_list(&c.voters, 3, (uint32_t[]){1, 2, 4});
    reconcile_shard(t, plan, 2, &c, &a);
    assert_int_equal(a.kind, RECONCILE_NONE);
    test_list(&c.voters, 3, (uint32_t[]){1, 2, 3});
    reconcile_shard(t, plan, 2, &c, &a);
    assert_int_equal(a.kind, RECONCILE_NONE);
    t->node_count--; /* node 4 forgotten */
    test_list(&c.voters, 3, (uint32_t[]){1, 2, 4});
    test_list(&c.outgoing, 3, (uint32_t[]){1, 2, 3});
    reconcile_shard(t, plan, 2, &c, &a);
    assert_int_equal(a.kind, RECONCILE_NONE);
    free(plan);
    free(t);
}

/* The meta group: a member the topology does not list is a removal to resume. */
static void test_meta_removal(void **state)
{
    (void)state;
    struct topology *t = test_three();
    struct cn_membership c = {0};
    test_list(&c.voters, 3, (uint32_t[]){1, 2, 3});
    assert_int_equal(reconcile_meta_removal(t, &c), 0);
    test_list(&c.voters, 4, (uint32_t[]){1, 2, 3, 4});
    assert_int_equal(reconcile_meta_removal(t, &c), 4);
    test_list(&c.voters, 3, (uint32_t[]){1, 2, 3});
    test_list(&c.learners, 1, (uint32_t[]){6});
    assert_int_equal(reconcile_meta_removal(t, &c), 6);
    /* While the joint configuration of a change is under way: nothing yet. */
    test_list(&c.voters, 4, (uint32_t[]){1, 2, 3, 4});
    test_list(&c.outgoing, 3, (uint32_t[]){1, 2, 3});
    c.learners.count = 0;
    assert_int_equal(reconcile_meta_removal(t, &c), 0);
    /* Never the last voter. */
    memset(&c, 0, sizeof(c));
    test_list(&c.voters, 1, (uint32_t[]){9});
    assert_int_equal(reconcile_meta_removal(t, &c), 0);
    free(t);
}

int main(void)
{
    alarm(60); /* a hang is a failure */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abandoned_learner_dropped),
        cmocka_unit_test(test_planned_learner_kept),
        cmocka_unit_test(test_unrecorded_swap_reversed),
        cmocka_unit_test(test_left_alone),
        cmocka_unit_test(test_meta_removal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
